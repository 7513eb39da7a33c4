// Package parking keeps payloads the connector cannot deliver (unparseable
// webhooks, events for unknown numbers, tenant mismatches) in S3 for an
// operator to inspect, instead of dropping them. Objects are
// content-addressed, so parking the same payload twice is harmless.
package parking

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tucanlink/wacloud/shared/fault"
)

// Reasons a payload is parked. Each is a folder under parked/.
const (
	ReasonUnparseable        = "unparseable"          // valid signature, body is not JSON
	ReasonNotWhatsApp        = "not_whatsapp"         // JSON, but not a whatsapp_business_account payload
	ReasonUnknownPhoneNumber = "unknown_phone_number" // no tenant registered for the phone_number_id
	ReasonUnknownWABA        = "unknown_waba"         // account-level change for a WABA no tenant owns
	ReasonTenantMismatch     = "tenant_mismatch"      // a tenant's own webhook named another tenant's number
	ReasonTenantDisabled     = "tenant_disabled"
	ReasonUnhandledChange    = "unhandled_change" // a messages change the normalizer has no event for
	ReasonNormalizeFailed    = "normalize_failed"
	ReasonTooLarge           = "too_large" // a unit over the size SQS accepts for one message
	// ReasonBodyTooLarge is a signed webhook body over the webhook's
	// MAX_BODY_BYTES (Meta's largest payload), kept whole.
	ReasonBodyTooLarge = "body_too_large"
)

// API is the part of the S3 client Store uses.
type API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Meta describes where a parked payload came from. Empty fields are left out
// of the object's metadata.
type Meta struct {
	Route         string
	RouteTenant   string
	TenantID      string
	PhoneNumberID string
	WABAID        string
	ReceivedAt    string
}

// Store writes parked payloads to Bucket. It is safe for concurrent use.
type Store struct {
	API    API
	Bucket string
	Now    func() time.Time
}

// Key returns where body is parked for reason at time at:
// parked/{reason}/{yyyy}/{mm}/{dd}/{sha256 of body}.json.
func Key(reason string, at time.Time, body []byte) string {
	sum := sha256.Sum256(body)
	return fmt.Sprintf("parked/%s/%s/%s.json", reason, at.UTC().Format("2006/01/02"), hex.EncodeToString(sum[:]))
}

// Park stores body under reason and returns its key. Failures are Retry:
// the caller must not acknowledge what it could not park.
func (s Store) Park(ctx context.Context, reason string, body []byte, m Meta) (string, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	key := Key(reason, now(), body)
	// Metadata travels as x-amz-meta-* headers: hyphens, not underscores,
	// which HTTP servers and proxies often drop (nginx by default,
	// moto_server always).
	md := map[string]string{"reason": reason}
	for k, v := range map[string]string{
		"route": m.Route, "route-tenant": m.RouteTenant, "tenant-id": m.TenantID,
		"phone-number-id": m.PhoneNumberID, "waba-id": m.WABAID, "received-at": m.ReceivedAt,
	} {
		if v != "" {
			md[k] = v
		}
	}
	_, err := s.API.PutObject(ctx, &s3.PutObjectInput{
		Bucket:      aws.String(s.Bucket),
		Key:         aws.String(key),
		Body:        bytes.NewReader(body),
		ContentType: aws.String("application/json"),
		Metadata:    md,
	})
	if err != nil {
		return "", fault.Retryable(fmt.Errorf("park payload as %s: %w", reason, err))
	}
	return key, nil
}
