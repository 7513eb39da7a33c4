package connector

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/local/stack"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// Tenant is a tenant the connector seeds: its registry entry, one business
// number, and its two secrets (sending and webhook-side). In JSON (WACLOUD_LOCAL_TENANTS) the
// keys are the json tags; unset secrets get local defaults.
type Tenant struct {
	ID                 string `json:"tenant_id"`
	Name               string `json:"name,omitempty"`
	PhoneNumberID      string `json:"phone_number_id"`
	WABAID             string `json:"waba_id"`
	DisplayPhoneNumber string `json:"display_phone_number,omitempty"`
	AccessToken        string `json:"access_token,omitempty"`
	AppSecret          string `json:"app_secret,omitempty"`
	VerifyToken        string `json:"verify_token,omitempty"`
	// OwnApp tenants use their own Meta app: webhooks come to
	// /webhook/{tenant_id}, signed with their own app secret.
	OwnApp     bool `json:"own_app,omitempty"`
	Throughput int  `json:"throughput,omitempty"`
}

// Local credentials of the demo tenant, the platform app and the core.
const (
	DemoTenantID       = "demo"
	DemoPhoneNumberID  = "100000000000001"
	DemoWABAID         = "200000000000001"
	DemoDisplayNumber  = "15550000001"
	DemoAccessToken    = "local-access-token"
	PlatformAppSecret  = "local-app-secret"
	PlatformVerify     = "local-verify-token"
	CoreBearerToken    = "local-core-token"
	CoreSigningSecret  = "local-core-signing-secret"
	defaultDisplayBase = "1555000"
)

// Demo is the tenant always seeded.
var Demo = Tenant{
	ID: DemoTenantID, Name: "Demo", PhoneNumberID: DemoPhoneNumberID, WABAID: DemoWABAID,
	DisplayPhoneNumber: DemoDisplayNumber, AccessToken: DemoAccessToken,
	AppSecret: PlatformAppSecret, VerifyToken: PlatformVerify,
}

// ParseTenants reads extra tenants from JSON: an array of Tenant, or
// "@path" to read the array from a file.
func ParseTenants(s string) ([]Tenant, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	b := []byte(s)
	if path, ok := strings.CutPrefix(s, "@"); ok {
		var err error
		if b, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("read tenants file: %w", err)
		}
	}
	var ts []Tenant
	if err := json.Unmarshal(b, &ts); err != nil {
		return nil, fmt.Errorf("tenants: want a JSON array of {tenant_id, phone_number_id, waba_id, ...}: %w", err)
	}
	for i := range ts {
		if err := ts[i].complete(); err != nil {
			return nil, err
		}
	}
	return ts, nil
}

// complete checks t and fills local defaults. Platform-app tenants share
// the platform's app secret and verify token, as on AWS.
func (t *Tenant) complete() error {
	if t.ID == "" || t.PhoneNumberID == "" || t.WABAID == "" {
		return fmt.Errorf("tenant %q: tenant_id, phone_number_id and waba_id are required", t.ID)
	}
	if t.Name == "" {
		t.Name = t.ID
	}
	if t.DisplayPhoneNumber == "" {
		t.DisplayPhoneNumber = defaultDisplayBase + t.PhoneNumberID[max(0, len(t.PhoneNumberID)-4):]
	}
	if t.AccessToken == "" {
		t.AccessToken = "local-access-token-" + t.ID
	}
	if t.OwnApp {
		if t.AppSecret == "" {
			t.AppSecret = "local-app-secret-" + t.ID
		}
		if t.VerifyToken == "" {
			t.VerifyToken = "local-verify-token-" + t.ID
		}
	} else {
		if t.AppSecret == "" {
			t.AppSecret = PlatformAppSecret
		}
		if t.VerifyToken == "" {
			t.VerifyToken = PlatformVerify
		}
	}
	return nil
}

// seed writes the platform and core secrets and every tenant. As on AWS,
// each Meta app's access token and its webhook-side secrets (app secret,
// verify token) live in separate secrets: the sending secret under the
// senders' TENANT_SECRET_PREFIX, the webhook-side one under the webhook's
// TENANT_WEBHOOK_SECRET_PREFIX. Platform-app tenants get a webhook-side
// secret with the platform's values, so their /webhook/{tenant_id} route
// answers too.
func seed(ctx context.Context, cfg aws.Config, st *stack.Stack, tenants []Tenant) error {
	sm := secretsmanager.NewFromConfig(cfg)
	platformApp, _ := json.Marshal(tenant.AppCredentials{AppSecret: PlatformAppSecret, VerifyToken: PlatformVerify})
	if err := putSecret(ctx, sm, st.Names.Att["PlatformWebhookSecret.Name"], string(platformApp)); err != nil {
		return err
	}
	// The platform app sends nothing itself: its sending secret holds an
	// empty token, without the keys the template generates for stacks
	// created before the split.
	platform, _ := json.Marshal(tenant.Credentials{})
	if err := putSecret(ctx, sm, st.Names.Att["PlatformSecret.Name"], string(platform)); err != nil {
		return err
	}
	// The simulated Meta app (graphsim's app id; its app secret signs the
	// webhooks and is the client secret), for debug_token and Embedded Signup.
	metaApp, _ := json.Marshal(map[string]string{tenant.KeyAppID: graphsim.DefaultAppID, tenant.KeyAppSecret: PlatformAppSecret})
	if err := putSecret(ctx, sm, st.Names.Att["MetaAppSecret.Name"], string(metaApp)); err != nil {
		return err
	}
	coreSecret, _ := json.Marshal(map[string]string{"bearer_token": CoreBearerToken, "signing_secret": CoreSigningSecret})
	if err := putSecret(ctx, sm, st.Names.Att["CoreSecret.Name"], string(coreSecret)); err != nil {
		return err
	}
	prefix := st.Functions["SenderFunction"].Env["TENANT_SECRET_PREFIX"]
	webhookPrefix := st.Functions["WebhookFunction"].Env["TENANT_WEBHOOK_SECRET_PREFIX"]
	if prefix == "" || webhookPrefix == "" {
		return fmt.Errorf("seed tenants: TENANT_SECRET_PREFIX or TENANT_WEBHOOK_SECRET_PREFIX not resolved from the template")
	}
	reg := &tenant.Registry{API: dynamodb.NewFromConfig(cfg), Table: st.Names.Ref["TenantsTable"]}
	for _, t := range tenants {
		creds, _ := json.Marshal(tenant.Credentials{AccessToken: t.AccessToken})
		secretID := prefix + t.ID
		if err := putSecret(ctx, sm, secretID, string(creds)); err != nil {
			return err
		}
		app, _ := json.Marshal(tenant.AppCredentials{AppSecret: t.AppSecret, VerifyToken: t.VerifyToken})
		if err := putSecret(ctx, sm, webhookPrefix+t.ID, string(app)); err != nil {
			return err
		}
		err := reg.Put(ctx, tenant.Tenant{
			ID: t.ID, Name: t.Name, Status: tenant.StatusActive, SecretID: secretID, OwnApp: t.OwnApp,
			CreatedAt: time.Now().UTC().Format(time.RFC3339),
		}, []tenant.Number{{
			PhoneNumberID: t.PhoneNumberID, WABAID: t.WABAID, DisplayPhoneNumber: t.DisplayPhoneNumber, Throughput: t.Throughput,
		}})
		if err != nil {
			return fmt.Errorf("seed tenant %s: %w", t.ID, err)
		}
	}
	return nil
}

// putSecret creates secret name with value, or replaces its value.
func putSecret(ctx context.Context, sm *secretsmanager.Client, name, value string) error {
	if name == "" {
		return fmt.Errorf("seed secret: empty name")
	}
	_, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
	if err == nil {
		return nil
	}
	if !strings.Contains(err.Error(), "ResourceExists") {
		return fmt.Errorf("seed secret %s: %w", name, err)
	}
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(value)}); err != nil {
		return fmt.Errorf("seed secret %s: %w", name, err)
	}
	return nil
}
