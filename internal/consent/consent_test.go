package consent

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"gatepass/internal/access"
)

// golden is the SHA-256 of every published notice. A published version never changes:
// to change the text, add notice/<new version>.<lang>.md for every language, add its
// hashes here and move CurrentVersion (and read the version rule in the package doc).
var golden = map[string]map[string]string{
	"1": {
		"en": "f87ffae421d8c48ff4b0a9d2df953d9f501f8ab63815b6c88774319ca762ea4c",
		"zh": "4092c9b55a06ad1046129007c0e53f9deb1a674fbdedf889331ae87bc8e551d9",
	},
	// Version 2: the typography of version 1 (full-width punctuation in Chinese).
	"2": {
		"en": "faaf86748863dfe248f6cb91f161561fc88e3a822815cdd8b070130f2abd789b",
		"zh": "56148090b16e331b4571acc69b467ef7e77992c7a8847e26c28cb5799cea9cc8",
	},
}

func TestGoldenHashes(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range Published() {
		want, ok := golden[n.Version][n.Lang]
		if !ok {
			t.Errorf("notice %s.%s has no golden hash: add it (a new version, never an edit)", n.Version, n.Lang)
			continue
		}
		if got := hex.EncodeToString(n.Hash[:]); got != want {
			t.Errorf("notice %s.%s changed (hash %s, published %s): a change of the text is a new version", n.Version, n.Lang, got, want)
		}
		if n.Hash != sha256.Sum256([]byte(n.Text)) {
			t.Errorf("notice %s.%s: Hash is not the hash of Text", n.Version, n.Lang)
		}
		seen[n.Version+"."+n.Lang] = true
	}
	for v, langs := range golden {
		for _, l := range Languages {
			if _, ok := langs[l]; !ok {
				t.Errorf("version %s has no golden hash for %s", v, l)
			}
			if !seen[v+"."+l] {
				t.Errorf("version %s is not published in %s", v, l)
			}
		}
	}
	if _, ok := golden[CurrentVersion]; !ok {
		t.Errorf("CurrentVersion %s is not published", CurrentVersion)
	}
}

// The notice must say what issue 6 item 1 and PIPL art. 17 and 30 require; each entry is
// a phrase that carries one required fact, per language.
func TestNoticeContent(t *testing.T) {
	required := map[string][]string{
		"en": {"{{operator_name}}", "{{operator_contact}}", "Purpose", "Method", "template", "Never a photo",
			"One gate only", "sealed end to end", "180 days", "at least 3 years", "sensitive personal information",
			"Who can access", "withdraw", "delete", "QR code", "release", "never required", "under 14", "asked for a new"},
		"zh": {"{{operator_name}}", "{{operator_contact}}", "处理目的", "处理方式", "模板", "从不存储照片",
			"仅一个门禁", "端到端加密", "180 日", "至少保存 3 年", "敏感个人信息", "谁可以访问", "撤回",
			"删除", "二维码", "人工放行", "从不是必需的", "不满十四周岁", "重新征得您的同意"},
	}
	for _, lang := range Languages {
		n, err := Current(lang)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range required[lang] {
			if !strings.Contains(n.Text, p) {
				t.Errorf("notice %s.%s does not say %q", n.Version, lang, p)
			}
		}
		if strings.Count(n.Text, "{{") != 2 {
			t.Errorf("notice %s.%s: the only placeholders are the operator's name and contact", n.Version, lang)
		}
	}
}

// The Chinese notice is a legal text: its punctuation is the full-width one Chinese
// uses (，：；（）), not the half-width one of a careless draft.
func TestChinesePunctuation(t *testing.T) {
	n, err := Current("zh")
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(n.Text, "\n") {
		if j := strings.IndexAny(line, ",:;()"); j >= 0 {
			t.Errorf("notice %s.zh line %d has a half-width %q: %s", n.Version, i+1, line[j], line)
		}
	}
}

func TestRender(t *testing.T) {
	n, err := Current("en")
	if err != nil {
		t.Fatal(err)
	}
	out, err := n.Render(Operator{Name: "Sunshine Property Ltd.", Contact: "privacy@example.com\n# fake heading {{x}}"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Sunshine Property Ltd., the property") || strings.Contains(out, "{{") || strings.Contains(out, "\n# fake") {
		t.Fatalf("rendered notice:\n%s", out[:400])
	}
	for _, op := range []Operator{{Name: "", Contact: "x"}, {Name: "x", Contact: "  "}} {
		if _, err := n.Render(op); !errors.Is(err, access.ErrInvalid) {
			t.Fatalf("Render(%+v) = %v", op, err)
		}
	}
}

func TestLookup(t *testing.T) {
	for _, c := range [][2]string{{"99", "en"}, {"1", "fr"}, {"../notice/1", "en"}, {"1", "en.md"}, {"", ""}} {
		if _, err := Lookup(c[0], c[1]); !errors.Is(err, ErrUnknownNotice) {
			t.Errorf("Lookup(%q, %q) = %v", c[0], c[1], err)
		}
	}
}

func TestCheckGiver(t *testing.T) {
	unit, other := uuid.New(), uuid.New()
	adult := Person{ID: uuid.New(), Active: true, Unit: unit}
	neighbour := Person{ID: uuid.New(), Active: true, Unit: other}
	child := Person{ID: uuid.New(), Under14: true, Active: true, Unit: unit}
	sibling := Person{ID: uuid.New(), Under14: true, Active: true, Unit: unit}
	movedOut := Person{ID: uuid.New(), Active: false, Unit: unit}
	homeless := Person{ID: uuid.New(), Active: true}
	cases := []struct {
		name           string
		subject, giver Person
		want           error
	}{
		{"adult for self", adult, adult, nil},
		{"adult for another adult", adult, neighbour, ErrNotSubject},
		{"guardian in the same unit", child, adult, nil},
		{"child for self", child, child, ErrGuardianRequired},
		{"another child of the unit", child, sibling, ErrGuardianRequired},
		{"adult of another unit", child, neighbour, ErrGuardianRequired},
		{"adult with no unit", Person{ID: child.ID, Under14: true, Active: true}, homeless, ErrGuardianRequired},
		{"moved-out guardian", child, movedOut, ErrNotActive},
		{"moved-out subject", movedOut, movedOut, ErrNotActive},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := CheckGiver(c.subject, c.giver); !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Fatalf("CheckGiver = %v, want %v", err, c.want)
			}
		})
	}
	if !errors.Is(ErrGuardianRequired, access.ErrForbidden) || !errors.Is(ErrNotActive, access.ErrConflict) {
		t.Fatal("refusals do not map to HTTP statuses")
	}
}

func TestShown(t *testing.T) {
	cur, err := Current("en")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, version, lang string
		hash                []byte
		field               string // of the FieldError; "" for success
	}{
		{"current with its hash", CurrentVersion, "en", cur.Hash[:], ""},
		{"unknown version", "0", "en", cur.Hash[:], "notice_version"},
		{"unknown language", CurrentVersion, "fr", cur.Hash[:], "notice_version"},
		{"another text's hash", CurrentVersion, "en", make([]byte, 32), "notice_hash"},
		{"no hash", CurrentVersion, "en", nil, "notice_hash"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, err := Shown(c.version, c.lang, c.hash)
			var fe *access.FieldError
			switch {
			case c.field == "" && (err != nil || n.Hash != cur.Hash):
				t.Fatalf("Shown = %v, %v", n, err)
			case c.field != "" && (!errors.As(err, &fe) || fe.Field != c.field):
				t.Fatalf("Shown = %v, want a %s error", err, c.field)
			}
		})
	}
}

func TestCheckChannel(t *testing.T) {
	for ch, ok := range map[string]bool{"h5": true, "mini_program": true, strings.Repeat("渠", 40): true,
		"": false, strings.Repeat("x", 41): false} {
		if err := CheckChannel(ch); (err == nil) != ok || err != nil && !errors.Is(err, access.ErrInvalid) {
			t.Errorf("CheckChannel(%q) = %v", ch, err)
		}
	}
}

func TestCheckGate(t *testing.T) {
	gate := uuid.New()
	cases := []struct {
		scope Scope
		gate  uuid.UUID
		field string
	}{
		{ScopeCommunity, uuid.Nil, ""},
		{ScopeCommunity, gate, "gate_id"},
		{ScopeOneGate, gate, ""},
		{ScopeOneGate, uuid.Nil, ""}, // the store finds no such gate
		{"everywhere", uuid.Nil, "scope"},
	}
	for _, c := range cases {
		err := c.scope.CheckGate(c.gate)
		var fe *access.FieldError
		if c.field == "" && err != nil || c.field != "" && (!errors.As(err, &fe) || fe.Field != c.field) {
			t.Errorf("%s.CheckGate(%s) = %v, want %q", c.scope, c.gate, err, c.field)
		}
	}
}

func TestGaveConsent(t *testing.T) {
	parent, adult, stranger := uuid.New(), uuid.New(), uuid.New()
	cases := []struct {
		name     string
		resident uuid.UUID
		givers   []uuid.UUID
		want     bool
	}{
		{"a guardian who consented, then withdrew and consented again", parent, []uuid.UUID{parent, parent}, true},
		{"the adult's own consent", adult, []uuid.UUID{adult}, true},
		{"no consent at all", parent, nil, false},
		{"another's consent", stranger, []uuid.UUID{parent}, false},
	}
	for _, c := range cases {
		if got := GaveConsent(c.resident, c.givers); got != c.want {
			t.Errorf("%s: GaveConsent = %v", c.name, got)
		}
	}
}
