package wechat_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"gatepass/internal/wechat"
	"gatepass/internal/wechat/wechattest"
)

const secret = "s3cr3t-app-secret-0123456789abcdef"

func TestCode2Session(t *testing.T) {
	fake := wechattest.Start("wxAPPID", secret)
	defer fake.Close()
	c, err := wechat.New(wechat.Config{AppID: "wxAPPID", Secret: secret, Base: fake.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	code := fake.Login("openid-1")
	id, err := c.Code2Session(ctx, code)
	if err != nil || id.OpenID != "openid-1" {
		t.Fatalf("exchange: %+v, %v", id, err)
	}
	cases := []struct {
		name string
		fail int // FailNext, 0 for none
		code string
		want error
	}{
		{"used twice", 0, code, wechat.ErrCodeUsed},
		{"unknown code", 0, "nope", wechat.ErrInvalidCode},
		{"busy", wechattest.Busy, fake.Login("x"), wechat.ErrBusy},
		{"rate limited", wechattest.RateLimited, fake.Login("x"), wechat.ErrRateLimited},
		{"risky user", wechattest.RiskyUser, fake.Login("x"), wechat.ErrRiskyUser},
		{"invalid code", wechattest.InvalidCode, fake.Login("x"), wechat.ErrInvalidCode},
		{"another errcode", 40125, fake.Login("x"), wechat.ErrUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fail != 0 {
				fake.FailNext(tc.fail)
			}
			_, err := c.Code2Session(ctx, tc.code)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error names the secret: %v", err)
			}
		})
	}

	wrong, _ := wechat.New(wechat.Config{AppID: "wxAPPID", Secret: "other-secret", Base: fake.URL})
	if _, err := wrong.Code2Session(ctx, fake.Login("y")); !errors.Is(err, wechat.ErrUnavailable) {
		t.Fatalf("wrong secret: %v", err)
	}
	// A transport error must not carry the URL, which holds the secret.
	fake.Close()
	_, err = c.Code2Session(ctx, "abc")
	if !errors.Is(err, wechat.ErrUnavailable) || strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "jscode2session?") {
		t.Fatalf("transport error: %v", err)
	}
}

func TestNewRefusesIncompleteConfig(t *testing.T) {
	for _, cfg := range []wechat.Config{{AppID: "wx"}, {Secret: "s"}, {AppID: "wx", Secret: "s", Base: "ftp://x"}} {
		if _, err := wechat.New(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}
