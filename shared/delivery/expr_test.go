package delivery_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/local/ddbexpr"
	"github.com/tucanlink/wacloud/shared/delivery"
	"github.com/tucanlink/wacloud/shared/event"
)

// recorder is a delivery.API that keeps every write it is asked for and
// answers reads with item (nil: no record). It stores nothing.
type recorder struct {
	item map[string]ddbtypes.AttributeValue

	mu     sync.Mutex
	writes []any
}

var _ delivery.API = (*recorder)(nil)

func (r *recorder) GetItem(_ context.Context, _ *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{Item: r.item}, nil
}

func (r *recorder) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	r.record(in)
	return &dynamodb.UpdateItemOutput{Attributes: map[string]ddbtypes.AttributeValue{}}, nil
}

func (r *recorder) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	r.record(in)
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

func (r *recorder) record(in any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, in)
}

// stored is a record as DynamoDB would return it, at state st.
func stored(st string) map[string]ddbtypes.AttributeValue {
	rank, _ := delivery.Rank(st)
	return map[string]ddbtypes.AttributeValue{
		"pk":              &ddbtypes.AttributeValueMemberS{Value: "msg#w"},
		"wamid":           &ddbtypes.AttributeValueMemberS{Value: "w"},
		"status":          &ddbtypes.AttributeValueMemberS{Value: st},
		"status_rank":     &ddbtypes.AttributeValueMemberN{Value: strconv.Itoa(rank)},
		"tenant_id":       &ddbtypes.AttributeValueMemberS{Value: "acme"},
		"phone_number_id": &ddbtypes.AttributeValueMemberS{Value: "100"},
	}
}

// TestWritesNameEveryAttributeThroughAPlaceholder checks every write the
// store builds the way DynamoDB reads it. The emulator accepts a bare
// attribute name even when it is a reserved word, and placeholders no
// expression uses; DynamoDB refuses both (a bare "external" once made
// every RecordAccepted fail there), so this test catches what the
// emulator-backed tests cannot.
func TestWritesNameEveryAttributeThroughAPlaceholder(t *testing.T) {
	failed := status("w", event.StatusFailed, 3)
	failed.BizOpaqueCallbackData = "track"
	tests := []struct {
		name  string
		item  map[string]ddbtypes.AttributeValue // the record read first
		write func(context.Context, *delivery.Store) error
	}{
		{"record accepted", nil, func(ctx context.Context, s *delivery.Store) error {
			return s.RecordAccepted(ctx, accepted("w"))
		}},
		{"record accepted with only required fields", nil, func(ctx context.Context, s *delivery.Store) error {
			return s.RecordAccepted(ctx, delivery.Record{WAMID: "w", TenantID: "acme", PhoneNumberID: "100", JobID: "j"})
		}},
		{"first status creates an external record", nil, func(ctx context.Context, s *delivery.Store) error {
			_, err := s.Apply(ctx, status("w", event.StatusDelivered, 1))
			return err
		}},
		{"status advances the record", stored(event.StatusAccepted), func(ctx context.Context, s *delivery.Store) error {
			_, err := s.Apply(ctx, status("w", event.StatusSent, 1))
			return err
		}},
		{"failed status with errors and callback data", stored(event.StatusSent), func(ctx context.Context, s *delivery.Store) error {
			_, err := s.Apply(ctx, failed)
			return err
		}},
		{"late status adds history", stored(event.StatusRead), func(ctx context.Context, s *delivery.Store) error {
			_, err := s.Apply(ctx, status("w", event.StatusDelivered, 1))
			return err
		}},
		{"accepted writes counting a campaign's message", nil, func(ctx context.Context, s *delivery.Store) error {
			r := accepted("w")
			r.CampaignID = "cmp_0123456789abcdef0123"
			items, err := s.AcceptedWrites(r)
			if err != nil {
				return err
			}
			_, err = s.API.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
			return err
		}},
		{"count a campaign's message and mark its events notified", nil, func(ctx context.Context, s *delivery.Store) error {
			m := delivery.Message{Record: delivery.Record{WAMID: "w", TenantID: "acme", JobID: "j", CampaignID: "cmp_0123456789abcdef0123"},
				StatusAt: map[string]time.Time{event.StatusRead: base, event.StatusFailed: base}, Counted: map[string]bool{"accepted": true},
				Errors: []event.Error{{Code: 131049}}, Pricing: &event.Pricing{Category: "marketing"}}
			d, err := s.CountAndMarkNotified(ctx, m, []string{event.StatusSent, event.StatusDelivered, event.StatusRead}, base)
			if err == nil && fmt.Sprintf("%v %s %s", d.States, d.FailedReason, d.Pricing) != "[sent delivered read failed] 131049 marketing" {
				err = fmt.Errorf("counted %+v", d)
			}
			return err
		}},
		{"mark notified", nil, func(ctx context.Context, s *delivery.Store) error {
			return s.MarkNotified(ctx, "w", []string{event.StatusSent, event.StatusDelivered, event.StatusRead}, base)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{item: tt.item}
			s := &delivery.Store{API: rec, Table: "messages", CampaignsTable: "campaigns"}
			if err := tt.write(context.Background(), s); err != nil {
				t.Fatal(err)
			}
			if len(rec.writes) == 0 {
				t.Fatal("no write recorded")
			}
			for _, in := range rec.writes {
				for _, p := range ddbexpr.Problems(in) {
					t.Error(p)
				}
			}
		})
	}
}
