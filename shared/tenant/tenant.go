package tenant

import "errors"

// ErrNotFound is returned when a tenant, number or WABA is not registered.
var ErrNotFound = errors.New("not registered")

// ErrDisabled is returned when the tenant exists but is disabled.
var ErrDisabled = errors.New("tenant disabled")

// Tenant statuses.
const (
	StatusActive   = "active"
	StatusDisabled = "disabled"
)

// Meta's messages-per-second limits of a business number.
const (
	// DefaultThroughput is the default (Graph's throughput level STANDARD).
	DefaultThroughput = 80
	// HighThroughput is the limit after Meta's automatic upgrade (level
	// HIGH, webhook THROUGHPUT_UPGRADE).
	HighThroughput = 1000
	// BizAppThroughput is the fixed limit of a number shared with the
	// WhatsApp Business app (coexistence).
	BizAppThroughput = 20
)

// Tenant is a company using the connector.
type Tenant struct {
	ID       string `dynamodbav:"tenant_id" json:"tenant_id"`
	Name     string `dynamodbav:"name,omitempty" json:"name,omitempty"`
	Status   string `dynamodbav:"status" json:"status"`
	SecretID string `dynamodbav:"secret_id" json:"secret_id"` // Secrets Manager id of its sending secret (Credentials)
	// OwnApp is true when the tenant uses its own Meta app and webhook route
	// /webhook/{tenant_id}; false when it is served by the platform app.
	OwnApp       bool     `dynamodbav:"own_app" json:"own_app"`
	PhoneNumbers []string `dynamodbav:"phone_number_ids,omitempty" json:"phone_number_ids,omitempty"`
	WABAIDs      []string `dynamodbav:"waba_ids,omitempty" json:"waba_ids,omitempty"`
	CreatedAt    string   `dynamodbav:"created_at,omitempty" json:"created_at,omitempty"`
	// OptOut is the tenant's stop keywords and confirmation reply (nil:
	// the defaults). Put keeps the stored settings when it is nil;
	// SetOptOut changes them.
	OptOut *OptOut `dynamodbav:"opt_out,omitempty" json:"opt_out,omitempty"`
}

// Number is a business phone number registered to a tenant.
type Number struct {
	PhoneNumberID      string `dynamodbav:"phone_number_id" json:"phone_number_id"`
	TenantID           string `dynamodbav:"tenant_id" json:"tenant_id"`
	WABAID             string `dynamodbav:"waba_id" json:"waba_id"`
	DisplayPhoneNumber string `dynamodbav:"display_phone_number,omitempty" json:"display_phone_number,omitempty"`
	// Throughput is the number's messages-per-second limit at Meta.
	Throughput int `dynamodbav:"throughput,omitempty" json:"throughput,omitempty"`
	// OnBizApp is true for a number in use with both the WhatsApp Business
	// app and the Cloud API (coexistence; Graph's is_on_biz_app): Meta
	// fixes its throughput at BizAppThroughput whatever Throughput says.
	OnBizApp bool `dynamodbav:"on_biz_app,omitempty" json:"on_biz_app,omitempty"`
}

// Limit returns the number's messages per second: its throughput, or
// DefaultThroughput when unset, at most BizAppThroughput on the Business
// app.
func (n Number) Limit() int {
	return n.LimitOr(DefaultThroughput)
}

// LimitOr is Limit with another default for numbers without a throughput.
func (n Number) LimitOr(def int) int {
	limit := n.Throughput
	if limit <= 0 {
		limit = def
	}
	if n.OnBizApp && limit > BizAppThroughput {
		return BizAppThroughput
	}
	return limit
}
