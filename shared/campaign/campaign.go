package campaign

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// States of a campaign.
const (
	StateScheduled          = "scheduled"            // start_at is in the future
	StateRunning            = "running"              // the runner feeds its rows
	StatePaused             = "paused"               // POST …/pause, or a quality drop
	StateWaitingForCapacity = "waiting_for_capacity" // the portfolio's messaging limit is reached
	StateCompleted          = "completed"            // every row was queued, skipped or refused
	StateCancelled          = "cancelled"            // POST …/cancel
	StateFailed             = "failed"               // the audience could not be read
)

// Counts are a campaign's row and message counts, stored as top-level
// count_* attributes of the record (updates of nested paths are not
// applied by every DynamoDB stand-in). Rows, Invalid,
// Duplicates, Suppressed and Queued are the runner's (exact: committed
// with its checkpoint); Accepted to Failed come from the outbound results
// and statuses of the campaign's jobs.
type Counts struct {
	Rows       int64 `json:"rows" dynamodbav:"count_rows"`
	Invalid    int64 `json:"invalid" dynamodbav:"count_invalid"`
	Duplicates int64 `json:"duplicates" dynamodbav:"count_duplicates"`
	Suppressed int64 `json:"suppressed" dynamodbav:"count_suppressed"`
	Queued     int64 `json:"queued" dynamodbav:"count_queued"`
	Accepted   int64 `json:"accepted" dynamodbav:"count_accepted"`
	Sent       int64 `json:"sent" dynamodbav:"count_sent"`
	Delivered  int64 `json:"delivered" dynamodbav:"count_delivered"`
	Read       int64 `json:"read" dynamodbav:"count_read"`
	Failed     int64 `json:"failed" dynamodbav:"count_failed"`
}

// Template names the campaign's template in the tenant's catalog.
type Template struct {
	Name     string `json:"name" dynamodbav:"name"`
	Language string `json:"language" dynamodbav:"language"`
}

// Campaign is a campaign as stored and as the API shows it.
type Campaign struct {
	ID            string   `json:"id" dynamodbav:"id"`
	TenantID      string   `json:"tenant_id" dynamodbav:"tenant_id"`
	Name          string   `json:"name" dynamodbav:"name"`
	PhoneNumberID string   `json:"phone_number_id" dynamodbav:"phone_number_id"`
	Template      Template `json:"template" dynamodbav:"template"`
	// Audience is s3://{bucket}/tenants/{tenant_id}/….csv or ….jsonl.
	Audience  string  `json:"audience" dynamodbav:"audience"`
	StartAt   *string `json:"start_at" dynamodbav:"start_at,omitempty"`     // RFC 3339, UTC
	RateLimit *int    `json:"rate_limit" dynamodbav:"rate_limit,omitempty"` // messages per second, below the number's
	ClientRef string  `json:"client_ref,omitempty" dynamodbav:"client_ref,omitempty"`
	State     string  `json:"state" dynamodbav:"state"`
	Counts    Counts  `json:"counts" dynamodbav:"-"` // stored as top-level count_* attributes
	// FailedByReason counts failed messages by Meta's error code (or
	// the sender's reason), Pricing accepted messages by the pricing
	// category Meta reported.
	FailedByReason map[string]int64 `json:"failed_by_reason" dynamodbav:"failed_by_reason"`
	Pricing        map[string]int64 `json:"pricing" dynamodbav:"pricing"`
	// Report is the S3 prefix of the invalid-rows report: one CSV part
	// per checkpoint (row,to,reason).
	Report string `json:"report" dynamodbav:"report"`
	Reason string `json:"reason,omitempty" dynamodbav:"reason,omitempty"` // why the campaign failed or was paused by the system
	// StateAt is when the campaign entered its state.
	StateAt   string `json:"state_at,omitempty" dynamodbav:"state_at,omitempty"`
	CreatedAt string `json:"created_at" dynamodbav:"created_at"`
	UpdatedAt string `json:"updated_at" dynamodbav:"updated_at"`
}

// NewID returns a new campaign id; key, when set (the request's
// Idempotency-Key), makes it that key's id for the tenant, so the same
// create request repeated creates one campaign.
func NewID(tenantID, key string) string {
	if key != "" {
		sum := sha256.Sum256([]byte(tenantID + "\x00" + key))
		return "cmp_" + hex.EncodeToString(sum[:10])
	}
	var b [10]byte
	_, _ = rand.Read(b[:])
	return "cmp_" + hex.EncodeToString(b[:])
}

// ValidID reports whether id could be a campaign id (NewID's form).
func ValidID(id string) bool { return idRE.MatchString(id) }

var idRE = regexp.MustCompile(`^cmp_[0-9a-f]{20}$`)

// Limits of a create request.
const (
	MaxName      = 200
	MaxClientRef = 256
	// MaxRateLimit is the highest rate cap: Meta's highest throughput.
	MaxRateLimit = 1000
	// MaxStartAhead is how far ahead a campaign may be scheduled.
	MaxStartAhead = 90 * 24 * time.Hour
)

// Request is the body of POST /v1/tenants/{tenant_id}/campaigns.
type Request struct {
	Name          string           `json:"name"`
	PhoneNumberID string           `json:"phone_number_id"`
	Template      Template         `json:"template"`
	Audience      string           `json:"audience"`
	StartAt       Nullable[string] `json:"start_at"`
	RateLimit     Nullable[int]    `json:"rate_limit"`
	ClientRef     string           `json:"client_ref"`
}

// Nullable is an optional request value that may be given as null
// (strictjson refuses null for plain fields).
type Nullable[T any] struct{ Value *T }

// UnmarshalJSON reads null as no value.
func (n *Nullable[T]) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		n.Value = nil
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	n.Value = &v
	return nil
}

// Check returns what is wrong with the request for tenantID, whose
// audience must be in bucket under tenants/{tenant_id}/ (one sentence per
// problem; nil when it is valid).
func (r Request) Check(tenantID, bucket string, now time.Time) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if strings.TrimSpace(r.Name) == "" || len(r.Name) > MaxName {
		add("name is required, at most %d characters", MaxName)
	}
	if !digitsRE.MatchString(r.PhoneNumberID) {
		add("phone_number_id is required: the sending number's Meta id (digits)")
	}
	if r.Template.Name == "" || r.Template.Language == "" {
		add("template.name and template.language are required (a template of the tenant's catalog)")
	}
	if _, _, err := SplitAudience(r.Audience, tenantID, bucket); err != nil {
		add("%s", err.Error())
	}
	if r.StartAt.Value != nil {
		t, err := time.Parse(time.RFC3339, *r.StartAt.Value)
		switch {
		case err != nil:
			add("start_at must be an RFC 3339 time (2026-03-01T09:00:00Z) or null")
		case t.After(now.Add(MaxStartAhead)):
			add("start_at is more than %d days ahead", int(MaxStartAhead/(24*time.Hour)))
		}
	}
	if r.RateLimit.Value != nil && (*r.RateLimit.Value < 1 || *r.RateLimit.Value > MaxRateLimit) {
		add("rate_limit must be null or messages per second from 1 to %d", MaxRateLimit)
	}
	if len(r.ClientRef) > MaxClientRef {
		add("client_ref has more than %d characters", MaxClientRef)
	}
	return out
}

var digitsRE = regexp.MustCompile(`^[0-9]{1,32}$`)

// Audience formats, by the file's extension.
const (
	FormatCSV   = "csv"
	FormatJSONL = "jsonl"
)

// SplitAudience returns the key and format of an audience reference,
// which must be s3://{bucket}/tenants/{tenant_id}/…{.csv|.jsonl|.ndjson}:
// a tenant reaches its own prefix only.
func SplitAudience(uri, tenantID, bucket string) (key, format string, err error) {
	rest, ok := strings.CutPrefix(uri, "s3://")
	b, k, _ := strings.Cut(rest, "/")
	prefix := "tenants/" + tenantID + "/"
	switch {
	case !ok || b == "" || k == "":
		return "", "", fmt.Errorf("audience must be an s3://%s/%s… reference", bucket, prefix)
	case b != bucket:
		return "", "", fmt.Errorf("audience must be in the data bucket %s", bucket)
	case !strings.HasPrefix(k, prefix) || len(k) == len(prefix) || strings.Contains(k, "/../") || strings.Contains(k, "//"):
		return "", "", fmt.Errorf("audience must be under the tenant's prefix s3://%s/%s", bucket, prefix)
	}
	lower := strings.ToLower(k)
	switch {
	case strings.HasSuffix(lower, ".csv"):
		return k, FormatCSV, nil
	case strings.HasSuffix(lower, ".jsonl"), strings.HasSuffix(lower, ".ndjson"):
		return k, FormatJSONL, nil
	}
	return "", "", fmt.Errorf("audience must be a .csv (with a header row) or .jsonl (JSON Lines) file")
}

// ReportPrefix is the key prefix of a campaign's invalid-rows report.
func ReportPrefix(tenantID, id string) string {
	return "tenants/" + tenantID + "/campaigns/" + id + "/invalid-rows/"
}
