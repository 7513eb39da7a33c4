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

// DefaultThroughput is Meta's default messages per second for a business number.
const DefaultThroughput = 80

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
}

// Number is a business phone number registered to a tenant.
type Number struct {
	PhoneNumberID      string `dynamodbav:"phone_number_id" json:"phone_number_id"`
	TenantID           string `dynamodbav:"tenant_id" json:"tenant_id"`
	WABAID             string `dynamodbav:"waba_id" json:"waba_id"`
	DisplayPhoneNumber string `dynamodbav:"display_phone_number,omitempty" json:"display_phone_number,omitempty"`
	// Throughput is the number's messages-per-second limit at Meta.
	Throughput int `dynamodbav:"throughput,omitempty" json:"throughput,omitempty"`
}

// Limit returns the number's throughput, or DefaultThroughput when unset.
func (n Number) Limit() int {
	if n.Throughput <= 0 {
		return DefaultThroughput
	}
	return n.Throughput
}
