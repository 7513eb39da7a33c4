package graph_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/shared/graph"
)

// TestEmbeddedSignupCalls runs the onboarding calls against the simulator,
// which answers in Meta's shapes: a code becomes a token once, the token's
// scopes and WABAs are read back, the number is listed, the app
// subscribed and the number registered, with Meta's errors where Meta
// refuses.
func TestEmbeddedSignupCalls(t *testing.T) {
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	sim := graphsim.New(graphsim.Config{AppSecret: "app-secret", Now: func() time.Time { return now }})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	const waba, pn = "104996122399160", "106540352242922"
	su, err := sim.AddSignup(graphsim.Signup{WABAID: waba, PhoneNumberID: pn, TokenTTL: "1440h"})
	if err != nil {
		t.Fatal(err)
	}
	c := &graph.Client{BaseURL: srv.URL}
	app := graph.App{ID: graphsim.DefaultAppID, Secret: "app-secret"}
	ctx := context.Background()

	t.Run("wrong secret is code 1 without the secret", func(t *testing.T) {
		_, err := c.ExchangeCode(ctx, graph.App{ID: app.ID, Secret: "s3cr3t-wrong"}, su.Code)
		ge, ok := graph.AsError(err)
		if !ok || ge.Code != 1 || strings.Contains(err.Error(), "s3cr3t-wrong") || strings.Contains(err.Error(), su.Code) {
			t.Fatalf("err = %v, want code 1 without secret or code", err)
		}
	})
	token, err := c.ExchangeCode(ctx, app, su.Code)
	if err != nil || token == "" {
		t.Fatalf("exchange: %q %v", token, err)
	}
	t.Run("used code is 100/36009", func(t *testing.T) {
		_, err := c.ExchangeCode(ctx, app, su.Code)
		if ge, ok := graph.AsError(err); !ok || ge.Code != 100 || ge.Subcode != 36009 {
			t.Fatalf("err = %v, want 100/36009", err)
		}
	})
	t.Run("debug token", func(t *testing.T) {
		d, err := c.DebugToken(ctx, app, token)
		if err != nil {
			t.Fatal(err)
		}
		if !d.IsValid || d.AppID != app.ID || !d.Expires().Equal(now.Add(1440*time.Hour)) {
			t.Errorf("debug = %+v, want valid, app %s, expiring in 60 days", d, app.ID)
		}
		for _, tt := range []struct {
			scope, target string
			want          bool
		}{
			{graph.ScopeManagement, waba, true},
			{graph.ScopeMessaging, waba, true},
			{graph.ScopeMessaging, "999", false},
			{"business_management", waba, false},
		} {
			if got := d.Grants(tt.scope, tt.target); got != tt.want {
				t.Errorf("Grants(%s, %s) = %v, want %v", tt.scope, tt.target, got, tt.want)
			}
		}
	})
	t.Run("debug a revoked token", func(t *testing.T) {
		other, _ := sim.AddSignup(graphsim.Signup{WABAID: "555", PhoneNumberID: "556"})
		tok, err := c.ExchangeCode(ctx, app, other.Code)
		if err != nil {
			t.Fatal(err)
		}
		if err := sim.ChangeToken(tok, time.Time{}, true); err != nil {
			t.Fatal(err)
		}
		d, err := c.DebugToken(ctx, app, tok)
		if err != nil || d.IsValid || d.Error == nil || d.Error.Code != 190 {
			t.Fatalf("debug = %+v %v, want invalid with 190", d, err)
		}
	})
	t.Run("numbers, subscription, registration", func(t *testing.T) {
		ns, err := c.WABANumbers(ctx, token, waba)
		if err != nil || len(ns) != 1 || ns[0].ID != pn || ns[0].Registered() {
			t.Fatalf("numbers = %+v %v, want %s not registered", ns, err, pn)
		}
		if err := c.SubscribeApp(ctx, token, waba); err != nil {
			t.Fatal(err)
		}
		err = c.RegisterNumber(ctx, token, pn, "12")
		if ge, ok := graph.AsError(err); !ok || ge.Code != 100 {
			t.Fatalf("short pin: %v, want code 100", err)
		}
		if err := c.RegisterNumber(ctx, token, pn, "482913"); err != nil {
			t.Fatal(err)
		}
		err = c.RegisterNumber(ctx, token, pn, "000000")
		if ge, ok := graph.AsError(err); !ok || ge.Code != 133005 {
			t.Fatalf("other pin: %v, want 133005", err)
		}
		ns, _ = c.WABANumbers(ctx, token, waba)
		if len(ns) != 1 || !ns[0].Registered() {
			t.Errorf("numbers after registration = %+v, want registered", ns)
		}
		if !sim.Subscribed(waba) || !sim.Registered(pn) {
			t.Error("simulator does not show the subscription and registration")
		}
	})
	t.Run("ids are checked before a call", func(t *testing.T) {
		var ge *graph.Error
		if err := c.SubscribeApp(ctx, token, "../x"); !errors.As(err, &ge) {
			t.Fatalf("err = %v, want a Graph error", err)
		}
	})
}
