package sender

import (
	"context"
	"testing"

	"github.com/tucanlink/wacloud/local/ddbexpr"
)

// TestJobWritesNameEveryAttributeThroughAPlaceholder checks every request
// of the job store the way DynamoDB reads it ("state" is a reserved word;
// the embedded emulator accepts it bare, DynamoDB does not), and that it
// uses every placeholder it carries.
func TestJobWritesNameEveryAttributeThroughAPlaceholder(t *testing.T) {
	rec := JobRecord{TenantID: "acme", JobID: "job-1", PhoneNumberID: "100", To: "5511999990000"}
	ref := rec.Ref()
	tests := []struct {
		name   string
		legacy bool
		call   func(ctx context.Context, s *JobStore) error
	}{
		{"claim", false, func(ctx context.Context, s *JobStore) error {
			_, _, err := s.Claim(ctx, rec)
			return err
		}},
		{"claim checking the earlier key", true, func(ctx context.Context, s *JobStore) error {
			_, _, err := s.Claim(ctx, rec)
			return err
		}},
		{"fail unclaimed", false, func(ctx context.Context, s *JobStore) error {
			_, err := s.Fail(ctx, rec, Failure{Reason: "invalid_job", Details: "x"})
			return err
		}},
		{"release", false, func(ctx context.Context, s *JobStore) error { return s.Release(ctx, ref, "c1") }},
		{"mark sent", false, func(ctx context.Context, s *JobStore) error { return s.MarkSent(ctx, ref, "c1", "wamid.1", 1) }},
		{"mark sent with the message record", false, func(ctx context.Context, s *JobStore) error {
			return s.MarkSentWith(ctx, ref, "c1", "wamid.1", 1, nil)
		}},
		{"mark failed", false, func(ctx context.Context, s *JobStore) error {
			return s.MarkFailed(ctx, ref, "c1", Failure{Reason: "meta_error", Code: 131026, Title: "t", Retryable: true}, 2)
		}},
		{"take over an expired claim", false, func(ctx context.Context, s *JobStore) error {
			r := rec
			r.ClaimID = "c0"
			_, err := s.TakeOver(ctx, &r)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &ddbexpr.Recorder{}
			s := &JobStore{API: rec, Table: "state", LegacyKeys: tt.legacy}
			if err := tt.call(context.Background(), s); err != nil {
				t.Fatal(err)
			}
			if len(rec.Requests()) == 0 {
				t.Fatal("no request recorded")
			}
			for _, p := range rec.Problems() {
				t.Error(p)
			}
		})
	}
}
