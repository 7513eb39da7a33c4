package dedup_test

import (
	"context"
	"testing"

	"github.com/tucanlink/wacloud/local/ddbexpr"
	"github.com/tucanlink/wacloud/shared/dedup"
)

// TestClaimNamesEveryAttributeThroughAPlaceholder: the claim's condition
// reads "status", a reserved word, which DynamoDB refuses bare and the
// emulator accepts.
func TestClaimNamesEveryAttributeThroughAPlaceholder(t *testing.T) {
	rec := &ddbexpr.Recorder{}
	s := dedup.Store{API: rec, Table: "state"}
	out, err := s.Claim(context.Background(), "event#acme#wamid.1", "delivery-1")
	if err != nil || out != dedup.Claimed {
		t.Fatalf("claim = %v, %v", out, err)
	}
	if n := len(rec.Requests()); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
	for _, p := range rec.Problems() {
		t.Error(p)
	}
}
