package graph

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// The permissions a business token needs for the connector: templates,
// numbers and subscriptions (management) and messages (messaging).
const (
	ScopeManagement = "whatsapp_business_management"
	ScopeMessaging  = "whatsapp_business_messaging"
)

// App is the Meta app the platform runs as: its id and client (app)
// secret. String redacts the secret.
type App struct {
	ID     string
	Secret string
}

func (a App) String() string { return "app " + a.ID }

// token is the app access token "{app-id}|{app-secret}".
func (a App) token() string { return a.ID + "|" + a.Secret }

// ExchangeCode trades an Embedded Signup code for the business's token
// (GET /oauth/access_token). Errors are *Error (a used or unknown code is
// 100 with subcode 36009 or 36007) and never carry the secret or the code.
func (c *Client) ExchangeCode(ctx context.Context, app App, code string) (string, error) {
	q := url.Values{"client_id": {app.ID}, "client_secret": {app.Secret}, "code": {code}}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	err := c.DoJSON(ctx, app.token(), "GET", "/oauth/access_token?"+q.Encode(), nil, &out)
	if err != nil {
		var ge *Error
		if errors.As(err, &ge) {
			ge.Message = scrub(scrub(scrub(ge.Message, app.Secret), url.QueryEscape(app.Secret)), code)
		}
		return "", fmt.Errorf("exchange signup code: %w", err)
	}
	if out.AccessToken == "" {
		return "", fmt.Errorf("exchange signup code: %w", &Error{HTTPStatus: 200, Message: "answer has no access_token", Op: "GET /oauth/access_token"})
	}
	return out.AccessToken, nil
}

// TokenDebug is what GET /debug_token says about a token.
type TokenDebug struct {
	AppID     string          `json:"app_id"`
	Type      string          `json:"type"`
	IsValid   bool            `json:"is_valid"`
	ExpiresAt int64           `json:"expires_at"` // Unix seconds; 0: never
	Scopes    []string        `json:"scopes"`
	Granular  []GranularScope `json:"granular_scopes"`
	// Error is why an invalid token is invalid (code 190, subcode 463
	// expired, 460 invalidated).
	Error *struct {
		Code    int    `json:"code"`
		Subcode int    `json:"subcode"`
		Message string `json:"message"`
	} `json:"error"`
}

// GranularScope is a permission and the objects (WABA ids) it is granted on.
type GranularScope struct {
	Scope     string   `json:"scope"`
	TargetIDs []string `json:"target_ids"`
}

// Expires is when the token expires (zero: never).
func (d TokenDebug) Expires() time.Time {
	if d.ExpiresAt == 0 {
		return time.Time{}
	}
	return time.Unix(d.ExpiresAt, 0).UTC()
}

// Grants reports whether the token has scope on target (a WABA id). A
// scope without granular targets applies to everything the token reaches.
func (d TokenDebug) Grants(scope, target string) bool {
	found := false
	for _, s := range d.Scopes {
		found = found || s == scope
	}
	if !found {
		return false
	}
	for _, g := range d.Granular {
		if g.Scope != scope {
			continue
		}
		if g.TargetIDs == nil {
			return true
		}
		for _, id := range g.TargetIDs {
			if id == target {
				return true
			}
		}
		return false
	}
	return true
}

// DebugToken inspects token with the app's credentials. An invalid token
// is not an error: IsValid is false and Error says why.
func (c *Client) DebugToken(ctx context.Context, app App, token string) (TokenDebug, error) {
	var out struct {
		Data TokenDebug `json:"data"`
	}
	q := url.Values{"input_token": {token}}
	if err := c.DoJSON(ctx, app.token(), "GET", "/debug_token?"+q.Encode(), nil, &out); err != nil {
		var ge *Error
		if errors.As(err, &ge) {
			ge.Message = scrub(scrub(ge.Message, app.Secret), token)
		}
		return TokenDebug{}, fmt.Errorf("debug token: %w", err)
	}
	return out.Data, nil
}

// WABANumber is a number of a WABA as GET /{waba-id}/phone_numbers lists it.
type WABANumber struct {
	ID                 string `json:"id"`
	DisplayPhoneNumber string `json:"display_phone_number"`
	VerifiedName       string `json:"verified_name"`
	Status             string `json:"status"` // CONNECTED once registered; PENDING before
	QualityRating      string `json:"quality_rating"`
	MessagingLimitTier string `json:"messaging_limit_tier"`
}

// Registered reports whether the number is registered for the Cloud API.
func (n WABANumber) Registered() bool { return strings.EqualFold(n.Status, "CONNECTED") }

// WABANumbers lists a WABA's phone numbers (every page).
func (c *Client) WABANumbers(ctx context.Context, token, wabaID string) ([]WABANumber, error) {
	if !numericID(wabaID) {
		return nil, fmt.Errorf("list numbers of WABA %q: %w", wabaID, &Error{Code: 100, Message: "WABA id is not numeric", Op: "GET /{waba-id}/phone_numbers"})
	}
	var all []WABANumber
	after := ""
	for page := 0; page < 20; page++ {
		q := url.Values{"fields": {"id,display_phone_number,verified_name,status,quality_rating,messaging_limit_tier"}, "limit": {"100"}}
		if after != "" {
			q.Set("after", after)
		}
		var out struct {
			Data   []WABANumber `json:"data"`
			Paging struct {
				Cursors struct {
					After string `json:"after"`
				} `json:"cursors"`
				Next string `json:"next"`
			} `json:"paging"`
		}
		if err := c.DoJSON(ctx, token, "GET", "/"+wabaID+"/phone_numbers?"+q.Encode(), nil, &out); err != nil {
			return nil, fmt.Errorf("list numbers of WABA %s: %w", wabaID, err)
		}
		all = append(all, out.Data...)
		if out.Paging.Next == "" || out.Paging.Cursors.After == "" {
			break
		}
		after = out.Paging.Cursors.After
	}
	return all, nil
}

// SubscribeApp subscribes the token's app to the WABA's webhooks
// (POST /{waba-id}/subscribed_apps); repeating it is harmless.
func (c *Client) SubscribeApp(ctx context.Context, token, wabaID string) error {
	if !numericID(wabaID) {
		return fmt.Errorf("subscribe app to WABA %q: %w", wabaID, &Error{Code: 100, Message: "WABA id is not numeric", Op: "POST /{waba-id}/subscribed_apps"})
	}
	var out struct {
		Success bool `json:"success"`
	}
	if err := c.DoJSON(ctx, token, "POST", "/"+wabaID+"/subscribed_apps", nil, &out); err != nil {
		return fmt.Errorf("subscribe app to WABA %s: %w", wabaID, err)
	}
	if !out.Success {
		return fmt.Errorf("subscribe app to WABA %s: %w", wabaID, &Error{HTTPStatus: 200, Message: "answer is not success", Op: "POST /{waba-id}/subscribed_apps"})
	}
	return nil
}

// RegisterNumber registers a number for the Cloud API with its two-step
// verification PIN (POST /{phone-number-id}/register). Errors are *Error
// (133005: the number has another PIN).
func (c *Client) RegisterNumber(ctx context.Context, token, phoneNumberID, pin string) error {
	if !numericID(phoneNumberID) {
		return fmt.Errorf("register number %q: %w", phoneNumberID, &Error{Code: 100, Message: "phone number id is not numeric", Op: "POST /{phone-number-id}/register"})
	}
	var out struct {
		Success bool `json:"success"`
	}
	body := map[string]string{"messaging_product": "whatsapp", "pin": pin}
	if err := c.DoJSON(ctx, token, "POST", "/"+phoneNumberID+"/register", body, &out); err != nil {
		return fmt.Errorf("register number %s: %w", phoneNumberID, err)
	}
	if !out.Success {
		return fmt.Errorf("register number %s: %w", phoneNumberID, &Error{HTTPStatus: 200, Message: "answer is not success", Op: "POST /{phone-number-id}/register"})
	}
	return nil
}
