// Package wechattest is a local stand-in for WeChat's code-to-session API, speaking its
// documented request (GET /sns/jscode2session?appid=&secret=&js_code=&grant_type=
// authorization_code) and JSON answers, errcodes included, for the tests of mobile-api
// and the end-to-end story. Like WeChat it answers HTTP 200 with Content-Type text/plain
// whatever the errcode, a code is good once (a second use is 40163), and an unknown code
// is 40029.
package wechattest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
)

// Errcodes the fake can be told to answer (wechat's documented ones).
const (
	Busy        = -1
	InvalidCode = 40029
	CodeUsed    = 40163
	RateLimited = 45011
	RiskyUser   = 40226
	BadSecret   = 40125
)

// Server is the fake. Its zero value is not usable: call Start.
type Server struct {
	*httptest.Server
	AppID, Secret string

	mu       sync.Mutex
	codes    map[string]string // unused login code -> openid
	used     map[string]bool
	failNext []int
	requests int
}

// Start runs a fake for the mini-program appID with its secret.
func Start(appID, secret string) *Server {
	s := &Server{AppID: appID, Secret: secret, codes: map[string]string{}, used: map[string]bool{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Login is what wx.login does on the phone of the WeChat user openid: a fresh code.
func (s *Server) Login(openid string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	code := hex.EncodeToString(b)
	s.mu.Lock()
	s.codes[code] = openid
	s.mu.Unlock()
	return code
}

// FailNext makes the next exchange answer errcode (whatever its code), as WeChat does
// when busy, rate limited or blocking a risky user. The code is not used up.
func (s *Server) FailNext(errcode int) {
	s.mu.Lock()
	s.failNext = append(s.failNext, errcode)
	s.mu.Unlock()
}

// Requests counts the exchanges asked so far.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

var messages = map[int]string{
	Busy:        "system error",
	InvalidCode: "invalid code",
	CodeUsed:    "code been used",
	RateLimited: "api minute-quota reach limit mustslower retry next minute",
	RiskyUser:   "code blocked",
	BadSecret:   "invalid appsecret",
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	answer := func(v map[string]any) {
		w.Header().Set("Content-Type", "text/plain")
		_ = json.NewEncoder(w).Encode(v)
	}
	fail := func(code int) {
		answer(map[string]any{"errcode": code, "errmsg": fmt.Sprintf("%s, rid: fake-%d", messages[code], code)})
	}
	if r.Method != http.MethodGet || r.URL.Path != "/sns/jscode2session" {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	switch {
	case q.Get("grant_type") != "authorization_code", q.Get("appid") != s.AppID:
		fail(InvalidCode)
		return
	case q.Get("secret") != s.Secret:
		fail(BadSecret)
		return
	case len(s.failNext) > 0:
		code := s.failNext[0]
		s.failNext = s.failNext[1:]
		fail(code)
		return
	}
	code := q.Get("js_code")
	openid, ok := s.codes[code]
	switch {
	case s.used[code]:
		fail(CodeUsed)
	case !ok:
		fail(InvalidCode)
	default:
		delete(s.codes, code)
		s.used[code] = true
		sk := make([]byte, 16)
		_, _ = rand.Read(sk)
		answer(map[string]any{"openid": openid, "session_key": hex.EncodeToString(sk)})
	}
}
