// Package wechat signs residents in through a WeChat mini-program: it exchanges the code
// of wx.login for the user's openid with WeChat's code-to-session API
// (GET {base}/sns/jscode2session?appid=&secret=&js_code=&grant_type=authorization_code,
// answered with JSON {openid, session_key, unionid, errcode, errmsg}).
//
// The AppSecret is in every request's query string, so nothing this package returns
// carries the URL: a transport error (Go's *url.Error names the URL) is reduced to its
// cause, and any text that still held the secret is redacted. The session_key is
// dropped here: gatepass decrypts no WeChat user data, so it never needs it.
package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultBase is WeChat's API origin.
const DefaultBase = "https://api.weixin.qq.com"

// Errors of the code-to-session exchange, one per documented errcode (and 40163, which
// WeChat answers for a code used twice although its table omits it).
var (
	ErrInvalidCode = errors.New("wechat: the login code is invalid or expired (40029)")
	ErrCodeUsed    = errors.New("wechat: the login code was already used (40163)")
	ErrRateLimited = errors.New("wechat: too many logins, WeChat's limit (45011)")
	ErrRiskyUser   = errors.New("wechat: WeChat blocked this login as high risk (40226)")
	ErrBusy        = errors.New("wechat: WeChat is busy (-1)")
	// ErrUnavailable is every other failure: WeChat unreachable, a non-200 answer, an
	// answer that is not JSON, an errcode not listed above (a wrong AppSecret: 40125).
	ErrUnavailable = errors.New("wechat: the login service did not answer usably")
)

// Documented errcodes.
const (
	codeBusy        = -1
	codeInvalidCode = 40029
	codeCodeUsed    = 40163
	codeRateLimited = 45011
	codeRiskyUser   = 40226
)

// APIError is an errcode answer; errors.Is matches it to the sentinel of its code.
type APIError struct {
	Code int
	Msg  string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("wechat code2session: errcode %d: %s", e.Code, e.Msg)
}

// Is maps the errcode to its sentinel.
func (e *APIError) Is(target error) bool {
	switch e.Code {
	case codeInvalidCode:
		return target == ErrInvalidCode
	case codeCodeUsed:
		return target == ErrCodeUsed
	case codeRateLimited:
		return target == ErrRateLimited
	case codeRiskyUser:
		return target == ErrRiskyUser
	case codeBusy:
		return target == ErrBusy
	}
	return target == ErrUnavailable
}

// Config is the mini-program's identity at WeChat.
type Config struct {
	AppID  string
	Secret string
	// Base is the API origin (DefaultBase when empty); tests point it at a fake.
	Base string
	// HTTP is the client (a 10-second timeout when nil).
	HTTP *http.Client
}

// Client exchanges login codes.
type Client struct {
	appID, secret string
	endpoint      string
	http          *http.Client
}

// New checks cfg and makes a Client.
func New(cfg Config) (*Client, error) {
	if cfg.AppID == "" || cfg.Secret == "" {
		return nil, errors.New("wechat: both the AppID and the AppSecret are needed")
	}
	base := strings.TrimSuffix(cfg.Base, "/")
	if base == "" {
		base = DefaultBase
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("wechat: API base %q is not an http(s) origin", base)
	}
	hc := cfg.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	return &Client{appID: cfg.AppID, secret: cfg.Secret, endpoint: base + "/sns/jscode2session", http: hc}, nil
}

// AppID is the mini-program's AppID (public: it is in the mini-program's package).
func (c *Client) AppID() string { return c.appID }

// Identity is what a login code proves: the user's openid for this mini-program, and
// the unionid when the mini-program is tied to an Open Platform account.
type Identity struct {
	OpenID  string
	UnionID string
}

// maxAnswer bounds the answer read: the real one is a few hundred bytes.
const maxAnswer = 64 << 10

// Code2Session exchanges a wx.login code for the user's identity. A code is good once
// and for five minutes.
func (c *Client) Code2Session(ctx context.Context, code string) (Identity, error) {
	q := url.Values{"appid": {c.appID}, "secret": {c.secret}, "js_code": {code}, "grant_type": {"authorization_code"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint+"?"+q.Encode(), nil)
	if err != nil {
		return Identity{}, c.clean(err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return Identity{}, c.clean(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return Identity{}, c.clean(err)
	}
	if resp.StatusCode != http.StatusOK {
		return Identity{}, fmt.Errorf("wechat code2session: HTTP %d: %w", resp.StatusCode, ErrUnavailable)
	}
	// WeChat answers JSON as text/plain, so the content type is not checked.
	var out struct {
		OpenID  string `json:"openid"`
		UnionID string `json:"unionid"`
		ErrCode int    `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return Identity{}, fmt.Errorf("wechat code2session: answer is not JSON: %w", ErrUnavailable)
	}
	if out.ErrCode != 0 {
		return Identity{}, &APIError{Code: out.ErrCode, Msg: c.redact(out.ErrMsg)}
	}
	if out.OpenID == "" {
		return Identity{}, fmt.Errorf("wechat code2session: answer without openid: %w", ErrUnavailable)
	}
	return Identity{OpenID: out.OpenID, UnionID: out.UnionID}, nil
}

// clean turns a transport error into one that names neither the URL nor the secret.
func (c *Client) clean(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("wechat code2session: %s: %w", c.redact(err.Error()), ErrUnavailable)
}

func (c *Client) redact(s string) string {
	s = strings.ReplaceAll(s, c.secret, "[secret]")
	return strings.ReplaceAll(s, url.QueryEscape(c.secret), "[secret]")
}
