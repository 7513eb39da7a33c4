package msglimit_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/local/ddbexpr"
	"github.com/tucanlink/wacloud/shared/msglimit"
)

// TestCountNamesEveryAttributeThroughAPlaceholder checks the writes of a
// new recipient's count (and the sweep of an old bucket before it) the
// way DynamoDB reads them: the emulator accepts a bare reserved word and
// unused placeholders, DynamoDB refuses both.
func TestCountNamesEveryAttributeThroughAPlaceholder(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	// A portfolio at TIER_250 that still counts a bucket older than the
	// window: the count sweeps it first.
	old := "b" + strconv.FormatInt(now.Add(-25*time.Hour).Truncate(msglimit.Bucket).Unix(), 10)
	rec := &ddbexpr.Recorder{Item: map[string]ddbtypes.AttributeValue{
		"tier": &ddbtypes.AttributeValueMemberS{Value: "TIER_250"},
		"used": &ddbtypes.AttributeValueMemberN{Value: "3"},
		old:    &ddbtypes.AttributeValueMemberN{Value: "1"},
	}}
	s := &msglimit.Store{API: rec, Table: "state"}
	d, err := s.Reserve(context.Background(), "200000000000001", "5511999990000", now)
	if err != nil {
		t.Fatal(err)
	}
	if d.Outcome != msglimit.Allowed {
		t.Fatalf("outcome %v, want Allowed", d.Outcome)
	}
	transactions := 0
	for _, in := range rec.Requests() {
		if _, ok := in.(*dynamodb.TransactWriteItemsInput); ok {
			transactions++
		}
	}
	if transactions != 1 {
		t.Errorf("%d count transactions, want 1", transactions)
	}
	for _, p := range rec.Problems() {
		t.Error(p)
	}
}
