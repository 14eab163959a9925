package console_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatepass/internal/access"
	"gatepass/internal/dbtest"
	"gatepass/internal/store"
	"gatepass/server/internal/console"
	"gatepass/server/internal/servertest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// signedIn is a console session made in the store as a passkey sign-in makes it: an
// invite redeemed with a passkey, then a session. (The WebAuthn ceremonies themselves
// run in a real browser in internal/systest/e2e.)
type signedIn struct{ token, csrf string }

func signIn(t *testing.T, h *servertest.Harness, member string) signedIn {
	t.Helper()
	ctx := context.Background()
	id := uuid.MustParse(member)
	cred := make([]byte, 32)
	_, _ = rand.Read(cred)
	var s store.NewStaffSession
	err := h.DB.InTx(ctx, "test", func(tx *store.Tx) error {
		inv, err := tx.CreateStaffInvite(ctx, id)
		if err != nil {
			return err
		}
		pk := &store.StaffPasskey{CredentialID: cred, PublicKey: []byte{1}}
		if err := tx.RedeemStaffInvite(ctx, inv.ID, pk); err != nil {
			return err
		}
		s, err = tx.OpenStaffSession(ctx, id, pk.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return signedIn{s.Token, s.CSRF}
}

type answer struct {
	status int
	body   map[string]any
	header http.Header
}

// do calls the server as the console's page would: the session cookie, and on changes
// the CSRF header and the console's Origin, unless the caller overrides them.
func do(t *testing.T, h *servertest.Harness, method, path string, s signedIn, body string, headers map[string]string) answer {
	t.Helper()
	req, err := http.NewRequest(method, h.Base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if s.token != "" {
		req.AddCookie(&http.Cookie{Name: console.SessionCookie, Value: s.token})
	}
	if method != "GET" {
		req.Header.Set(console.CSRFHeader, s.csrf)
		req.Header.Set("Origin", servertest.ConsoleOrigin)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := answer{status: resp.StatusCode, header: resp.Header}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

func code(a answer) string {
	e, _ := a.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// A console session is the same staff principal as a bearer token: the admin API
// answers it with the member's role and community, and authorize.go decides as for a
// token (a guard is refused staff management, another community is not found).
func TestSessionIsTheStaffPrincipal(t *testing.T) {
	h := servertest.New(t)
	a, b := h.Community(), h.Community()
	admin := signIn(t, h, a.Staff[access.StaffAdmin].ID)
	guard := signIn(t, h, a.Staff[access.StaffGuard].ID)

	me := do(t, h, "GET", "/admin/v1/me", admin, "", nil)
	if me.status != 200 || me.body["role"] != "admin" || me.body["community_id"] != a.ID {
		t.Fatalf("me = %d %v", me.status, me.body)
	}
	if got := do(t, h, "GET", "/admin/v1/communities/"+a.ID+"/staff", guard, "", nil); got.status != 403 {
		t.Fatalf("a guard's session lists staff: %d", got.status)
	}
	if got := do(t, h, "GET", "/admin/v1/audit", guard, "", nil); got.status != 403 {
		t.Fatalf("a guard's session reads the audit log: %d", got.status)
	}
	if got := do(t, h, "GET", "/admin/v1/communities/"+b.ID+"/residents", admin, "", nil); got.status != 404 {
		t.Fatalf("an admin of A reads B's residents: %d", got.status)
	}
	// The session says what the member may do, from the same permission table.
	sess := do(t, h, "GET", "/console/api/v1/session", guard, "", nil)
	may, _ := json.Marshal(sess.body["may"])
	if sess.status != 200 || strings.Contains(string(may), "staff.manage") || strings.Contains(string(may), "audit.read") ||
		!strings.Contains(string(may), "entries.read") {
		t.Fatalf("guard's session: %d may %s", sess.status, may)
	}
	// A bearer token still works beside it, and an Authorization header is what counts.
	if got := do(t, h, "GET", "/admin/v1/communities/"+a.ID+"/staff", guard, "", map[string]string{"Authorization": "Bearer " + a.Admin}); got.status != 200 {
		t.Fatalf("bearer token with a guard's cookie: %d", got.status)
	}
}

// Changes need the session's CSRF token and, when the browser says where it comes from,
// the console's origin; a refused change changes nothing.
func TestCSRF(t *testing.T) {
	h := servertest.New(t)
	a := h.Community()
	admin := signIn(t, h, a.Staff[access.StaffAdmin].ID)
	other := signIn(t, h, a.Staff[access.StaffAdmin].ID)
	path := "/admin/v1/communities/" + a.ID + "/buildings"
	before := dbtest.Count(t, h.DB.SQL(), dbtest.Buildings)
	for _, c := range []struct {
		name    string
		headers map[string]string
		code    string
	}{
		{"no token", map[string]string{console.CSRFHeader: ""}, "csrf_token_invalid"},
		{"a wrong token", map[string]string{console.CSRFHeader: "gpc_AAAA"}, "csrf_token_invalid"},
		{"another session's token", map[string]string{console.CSRFHeader: other.csrf}, "csrf_token_invalid"},
		{"another site", map[string]string{"Origin": "https://evil.example"}, "cross_site_request"},
	} {
		got := do(t, h, "POST", path, admin, `{"name":"B9"}`, c.headers)
		if got.status != 403 || code(got) != c.code {
			t.Errorf("%s: %d %v, want 403 %s", c.name, got.status, got.body, c.code)
		}
	}
	if n := dbtest.Count(t, h.DB.SQL(), dbtest.Buildings); n != before {
		t.Fatalf("refused changes made %d buildings", n-before)
	}
	if got := do(t, h, "POST", path, admin, `{"name":"B9"}`, nil); got.status != 201 {
		t.Fatalf("with the token: %d %v", got.status, got.body)
	}
	// The console's own changes are held to the same rule.
	if got := do(t, h, "POST", "/console/api/v1/signout/everywhere", admin, "", map[string]string{console.CSRFHeader: ""}); got.status != 403 {
		t.Fatalf("sign-out without the token: %d", got.status)
	}
}

// A session ends when idle too long, at sign-out, at sign-out everywhere (all of the
// member's sessions, not their bearer tokens), and when the member is disabled.
func TestSessionEnds(t *testing.T) {
	h := servertest.New(t)
	a := h.Community()
	guardID := a.Staff[access.StaffGuard].ID
	me := func(s signedIn) int { return do(t, h, "GET", "/admin/v1/me", s, "", nil).status }

	idle := signIn(t, h, guardID)
	dbtest.Age(t, h.DB.SQL(), dbtest.StaffSessions, "last_seen_at", store.StaffIdleTimeout+time.Minute, dbtest.Hashes("token_hash", idle.token))
	if me(idle) != 401 {
		t.Fatal("an idle session still works")
	}

	one, two := signIn(t, h, guardID), signIn(t, h, guardID)
	out := do(t, h, "POST", "/console/api/v1/signout", one, "", nil)
	if out.status != 200 || me(one) != 401 || me(two) != 200 {
		t.Fatalf("sign-out: %d, then %d and %d", out.status, me(one), me(two))
	}
	// The cookies are cleared with the attributes they were set with.
	cookies := strings.Join(out.header.Values("Set-Cookie"), "\n")
	for _, want := range []string{console.SessionCookie + "=;", "HttpOnly", "SameSite=Strict", "secure"} {
		if !strings.Contains(strings.ToLower(cookies), strings.ToLower(want)) {
			t.Errorf("Set-Cookie %q lacks %s", cookies, want)
		}
	}
	three := signIn(t, h, guardID) // the idle session is ended too: 3
	all := do(t, h, "POST", "/console/api/v1/signout/everywhere", two, "", nil)
	if all.status != 200 || all.body["signed_out"] != float64(3) || me(two) != 401 || me(three) != 401 {
		t.Fatalf("sign-out everywhere: %v, then %d and %d", all.body, me(two), me(three))
	}
	if got := do(t, h, "GET", "/admin/v1/me", signedIn{}, "", map[string]string{"Authorization": "Bearer " + a.Guard}); got.status != 200 {
		t.Fatalf("the guard's bearer token stopped with the sessions: %d", got.status)
	}

	four := signIn(t, h, guardID)
	h.Must(200, "POST", "/admin/v1/communities/"+a.ID+"/staff/"+guardID+"/disable", a.Admin, nil)
	if me(four) != 401 {
		t.Fatal("a disabled member's session still works")
	}
}

// A staff invite works once, for the newest link only, and not for a disabled member.
func TestStaffInvites(t *testing.T) {
	h := servertest.New(t)
	a := h.Community()
	base := "/admin/v1/communities/" + a.ID + "/staff"
	created := h.Must(201, "POST", base, a.Admin, map[string]any{"name": "Night guard", "role": "guard", "invite": true})
	if created["token"] != nil || !strings.HasPrefix(created["invite_url"].(string), servertest.ConsoleOrigin+"/console/#invite=gpk_") ||
		!strings.HasPrefix(created["invite_qr"].(string), "data:image/png;base64,") {
		t.Fatalf("an invited member: %v", created)
	}
	h.MustFail(422, "invalid_field", "POST", base, a.Admin, map[string]any{"name": "x", "role": "guard", "invite": true, "ttl": "30d"})
	member := created["id"].(string)
	first := created["invite_code"].(string)
	begin := func(code string) int {
		return do(t, h, "POST", "/console/api/v1/invite/begin", signedIn{}, `{"invite_code":"`+code+`"}`, map[string]string{console.CSRFHeader: "", "Origin": ""}).status
	}
	if got := begin(first); got != 200 {
		t.Fatalf("begin with the invite: %d", got)
	}
	second := h.Must(201, "POST", base+"/"+member+"/invite", a.Admin, nil)["invite_code"].(string)
	if begin(first) != 404 || begin(second) != 200 {
		t.Fatal("the older link still works, or the newer does not")
	}
	h.Must(200, "POST", base+"/"+member+"/disable", a.Admin, nil)
	if begin(second) != 404 {
		t.Fatal("a disabled member's invite still works")
	}
	h.MustFail(409, "conflict", "POST", base+"/"+member+"/invite", a.Admin, nil)
	if begin("gpk_nonsense") != 404 {
		t.Fatal("a made-up code")
	}
}

// An operator chooses the community to work in; staff of one community cannot choose
// another, which does not exist for them.
func TestSelectCommunity(t *testing.T) {
	h := servertest.New(t)
	a, b := h.Community(), h.Community()
	op := h.Member(uuid.Nil, access.StaffAdmin)
	opSession := signIn(t, h, op.ID)
	if got := do(t, h, "GET", "/console/api/v1/session", opSession, "", nil); got.status != 200 || got.body["community_id"] != nil || got.body["operator"] != true {
		t.Fatalf("an operator's new session: %v", got.body)
	}
	if got := do(t, h, "PUT", "/console/api/v1/session/community", opSession, `{"community_id":"`+b.ID+`"}`, nil); got.status != 200 {
		t.Fatalf("select: %d %v", got.status, got.body)
	}
	if got := do(t, h, "GET", "/console/api/v1/session", opSession, "", nil); got.body["community_id"] != b.ID {
		t.Fatalf("after selecting B: %v", got.body)
	}
	admin := signIn(t, h, a.Staff[access.StaffAdmin].ID)
	if got := do(t, h, "PUT", "/console/api/v1/session/community", admin, `{"community_id":"`+b.ID+`"}`, nil); got.status != 404 {
		t.Fatalf("an admin of A selects B: %d", got.status)
	}
}

// The ceremonies, which need no session, are limited per client address.
func TestCeremoniesAreRateLimited(t *testing.T) {
	h := servertest.New(t)
	got := 0
	for i := 0; i < 40 && got != http.StatusTooManyRequests; i++ {
		got = do(t, h, "POST", "/console/api/v1/signin/begin", signedIn{}, "", map[string]string{console.CSRFHeader: "", "Origin": ""}).status
	}
	if got != http.StatusTooManyRequests {
		t.Fatalf("40 sign-in attempts in a row: the last answered %d", got)
	}
}
