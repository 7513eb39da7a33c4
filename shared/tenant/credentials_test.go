package tenant_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tucanlink/wacloud/local/awsemu"
	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/tenant"
)

func TestParseSecrets(t *testing.T) {
	tests := []struct {
		name  string
		value string
		// sending: ParseCredentials / SplitCombined
		token      string
		legacy     bool
		legacyApp  tenant.AppCredentials
		sendingErr bool
		// webhook side: ParseAppCredentials
		app    tenant.AppCredentials
		appErr bool
	}{
		{name: "sending secret", value: `{"access_token":"T"}`, token: "T", appErr: true},
		{name: "webhook-side secret", value: `{"app_secret":"S","verify_token":"V"}`,
			legacy: true, legacyApp: tenant.AppCredentials{AppSecret: "S", VerifyToken: "V"},
			app: tenant.AppCredentials{AppSecret: "S", VerifyToken: "V"}},
		{name: "combined secret from before the split", value: `{"access_token":"T","app_secret":"S","verify_token":"V"}`,
			token: "T", legacy: true, legacyApp: tenant.AppCredentials{AppSecret: "S", VerifyToken: "V"}, appErr: true},
		{name: "combined with empty webhook fields", value: `{"access_token":"T","app_secret":"","verify_token":""}`,
			token: "T", legacy: true, appErr: true},
		{name: "empty object", value: `{}`},
		{name: "unknown key", value: `{"access_token":"T","acces_token":"U"}`, sendingErr: true, appErr: true},
		{name: "key given twice", value: `{"access_token":"T","access_token":"U"}`, sendingErr: true, appErr: true},
		{name: "webhook key given twice", value: `{"app_secret":"S","verify_token":"V","app_secret":"S2"}`, sendingErr: true, appErr: true},
		{name: "not an object", value: `["T"]`, sendingErr: true, appErr: true},
		{name: "not JSON", value: `{"access_token":"T"`, sendingErr: true, appErr: true},
		{name: "null", value: `null`, sendingErr: true, appErr: true},
		{name: "number value", value: `{"access_token":12}`, sendingErr: true, appErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, app, legacy, err := tenant.SplitCombined(tt.value)
			if (err != nil) != tt.sendingErr {
				t.Fatalf("SplitCombined(%s) error = %v, want error %v", tt.value, err, tt.sendingErr)
			}
			if err != nil && !errors.Is(err, tenant.ErrMalformed) {
				t.Errorf("SplitCombined(%s) error = %v, want ErrMalformed", tt.value, err)
			}
			if c.AccessToken != tt.token || legacy != tt.legacy || app != tt.legacyApp {
				t.Errorf("SplitCombined(%s) = token %q, legacy %v, app %+v; want %q, %v, %+v",
					tt.value, c.AccessToken, legacy, [2]string{app.AppSecret, app.VerifyToken},
					tt.token, tt.legacy, [2]string{tt.legacyApp.AppSecret, tt.legacyApp.VerifyToken})
			}
			if c2, err := tenant.ParseCredentials(tt.value); c2 != c || (err != nil) != tt.sendingErr {
				t.Errorf("ParseCredentials(%s) differs from SplitCombined: %v", tt.value, err)
			}
			got, err := tenant.ParseAppCredentials(tt.value)
			if (err != nil) != tt.appErr {
				t.Fatalf("ParseAppCredentials(%s) error = %v, want error %v", tt.value, err, tt.appErr)
			}
			if err == nil && got != tt.app {
				t.Errorf("ParseAppCredentials(%s) = %v, want %v", tt.value, [2]string{got.AppSecret, got.VerifyToken}, [2]string{tt.app.AppSecret, tt.app.VerifyToken})
			}
		})
	}

	t.Run("errors name keys, never values", func(t *testing.T) {
		for _, value := range []string{
			`{"access_token":"EAAG-LEAK","app_secret":"LEAK-2"}`,
			`{"EAAG-LEAK-AS-KEY":"x"}`,
			`{"access_token":"EAAG-LEAK"`,
			`{"app_secret":["LEAK-2"]}`,
			`{"app_secret":"LEAK-1","app_secret":"LEAK-2"}`,
			`{"EAAG-LEAK":"x","EAAG-LEAK":"y"}`,
		} {
			_, err := tenant.ParseAppCredentials(value)
			if err == nil || strings.Contains(err.Error(), "LEAK") {
				t.Errorf("ParseAppCredentials(%s) = %v, want an error without the value", value, err)
			}
		}
		_, err := tenant.ParseAppCredentials(`{"access_token":"EAAG-LEAK","app_secret":"S"}`)
		if err == nil || !strings.Contains(err.Error(), "access_token") {
			t.Errorf("error = %v, want it to name the refused key access_token", err)
		}
	})
}

// countingSecrets is the real client, counting GetSecretValue calls.
type countingSecrets struct {
	*secretsmanager.Client
	calls atomic.Int32
}

func (c *countingSecrets) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	c.calls.Add(1)
	return c.Client.GetSecretValue(ctx, in, opts...)
}

func TestVault(t *testing.T) {
	emu := awsemu.StartTest(t)
	ctx := context.Background()
	sm := secretsmanager.NewFromConfig(emu.Config())
	run := time.Now().UnixNano()
	create := func(name, value string) string {
		t.Helper()
		id := fmt.Sprintf("wacloud/%s-%d", name, run)
		if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(id), SecretString: aws.String(value)}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	sending := create("tenants/vault", `{"access_token":"EAAG-TOKEN-SECRET"}`)
	webhookSide := create("webhook/tenants/vault", `{"app_secret":"APP-SECRET","verify_token":"VERIFY-SECRET"}`)
	api := &countingSecrets{Client: sm}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v := &tenant.Vault{API: api, TTL: time.Minute, Now: func() time.Time { return now }}

	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := v.Credentials(ctx, sending)
			if err != nil || c.AccessToken != "EAAG-TOKEN-SECRET" {
				t.Errorf("Credentials = %v", err)
			}
		}()
	}
	wg.Wait()
	if got := api.calls.Load(); got != 1 {
		t.Errorf("GetSecretValue calls = %d for 20 lookups, want 1", got)
	}
	now = now.Add(2 * time.Minute)
	if _, err := v.Credentials(ctx, sending); err != nil {
		t.Fatal(err)
	}
	if got := api.calls.Load(); got != 2 {
		t.Errorf("calls after TTL = %d, want 2", got)
	}
	v.Invalidate(sending)
	c, _ := v.Credentials(ctx, sending)
	if got := api.calls.Load(); got != 3 {
		t.Errorf("calls after Invalidate = %d, want 3", got)
	}
	app, err := v.AppCredentials(ctx, webhookSide)
	if err != nil || app.AppSecret != "APP-SECRET" || app.VerifyToken != "VERIFY-SECRET" {
		t.Errorf("AppCredentials = %v", err)
	}

	t.Run("a sending secret from before the split", func(t *testing.T) {
		id := create("tenants/combined", `{"access_token":"T","app_secret":"S","verify_token":"V"}`)
		if c, err := v.Credentials(ctx, id); err != nil || c.AccessToken != "T" {
			t.Errorf("Credentials = %v, want the access token", err)
		}
	})
	t.Run("a secret read one way is not served the other", func(t *testing.T) {
		_, err := v.AppCredentials(ctx, sending)
		if !errors.Is(err, tenant.ErrMalformed) || fault.ClassOf(err) != fault.Permanent || strings.Contains(err.Error(), "EAAG") {
			t.Errorf("AppCredentials(sending secret) = %v, want a permanent ErrMalformed without the value", err)
		}
		if c, err := v.Credentials(ctx, sending); err != nil || c.AccessToken != "EAAG-TOKEN-SECRET" {
			t.Errorf("Credentials after the refused read = %v", err)
		}
	})
	t.Run("missing secret", func(t *testing.T) {
		_, err := v.Credentials(ctx, "wacloud/tenants/none")
		if !errors.Is(err, tenant.ErrNotFound) || fault.ClassOf(err) != fault.Permanent {
			t.Errorf("err = %v, want permanent ErrNotFound", err)
		}
		before := api.calls.Load()
		_, _ = v.AppCredentials(ctx, "wacloud/tenants/none")
		_, _ = v.Credentials(ctx, "wacloud/tenants/none")
		if api.calls.Load() != before+2 {
			t.Errorf("a failed read was cached")
		}
	})
	t.Run("malformed secret", func(t *testing.T) {
		bad := create("tenants/bad", `{"app_secret":"LEAKY-SECRET"`)
		for name, read := range map[string]func() error{
			"Credentials":    func() error { _, err := v.Credentials(ctx, bad); return err },
			"AppCredentials": func() error { _, err := v.AppCredentials(ctx, bad); return err },
		} {
			if err := read(); !errors.Is(err, tenant.ErrMalformed) || strings.Contains(err.Error(), "LEAKY") {
				t.Errorf("%s = %v, want ErrMalformed without the value", name, err)
			}
		}
	})
	t.Run("redaction", func(t *testing.T) {
		var logs bytes.Buffer
		slog.New(slog.NewJSONHandler(&logs, nil)).Info("creds", "creds", c, "ptr", &c, "app", app, "aptr", &app, "group", slog.Group("g", "c", c, "a", app))
		slog.New(slog.NewTextHandler(&logs, nil)).Info("creds", "creds", c, "app", app)
		out := fmt.Sprintf("%v %+v %#v %s %q %x %X %d", c, c, c, c, c, c, c, c) + fmt.Sprint(c, &c) + fmt.Sprintf("%v %+v", &c, []tenant.Credentials{c}) +
			fmt.Sprintf("%v %+v %#v %s %q %x %X %d", app, app, app, app, app, app, app, app) + fmt.Sprint(app, &app) + fmt.Sprintf("%v %+v", &app, []tenant.AppCredentials{app}) +
			logs.String()
		for _, s := range []string{"EAAG-TOKEN-SECRET", "APP-SECRET", "VERIFY-SECRET", "4150502d"} {
			if strings.Contains(out, s) {
				t.Errorf("credentials printed (%s): %s", s, out)
			}
		}
	})
}
