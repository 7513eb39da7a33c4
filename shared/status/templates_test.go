package status_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

// TestTemplateWebhooksUpdateTheCatalog: Meta's template status, quality
// and category webhooks (real payloads) change the catalog item they
// name, and only when they are newer than what the catalog holds; a
// template the catalog does not hold is left for the next sync.
func TestTemplateWebhooksUpdateTheCatalog(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		held    catalog.Template // in the catalog before the webhook
		want    catalog.Template // status, quality, category after it
		noEntry bool             // the catalog does not hold the template
	}{
		{"approved", "message_template_status_update_approved.json",
			catalog.Template{WABAID: "102290129340398", Name: "order_confirmation", Language: "en_US", Status: "PENDING", Category: "UTILITY", ChangedAt: "2025-06-30T00:00:00Z"},
			catalog.Template{Status: "APPROVED", Category: "UTILITY"}, false},
		{"rejected", "message_template_status_update_rejected_invalid_format.json",
			catalog.Template{WABAID: "102290129340398", Name: "abandoned_cart", Language: "en", Status: "PENDING", Category: "MARKETING", ChangedAt: "2025-06-30T00:00:00Z"},
			catalog.Template{Status: "REJECTED", Category: "MARKETING"}, false},
		{"flagged stays sendable", "message_template_status_update_flagged_disable_info.json",
			catalog.Template{WABAID: "whatsapp-business-account-id", Name: "My message template", Language: "en-US", Status: "APPROVED", Category: "MARKETING"},
			catalog.Template{Status: "APPROVED", Category: "MARKETING"}, false},
		{"quality", "message_template_quality_update.json",
			catalog.Template{WABAID: "102290129340398", Name: "welcome_template", Language: "en_US", Status: "APPROVED", Category: "MARKETING", Quality: "GREEN", ChangedAt: "2023-01-01T00:00:00Z"},
			catalog.Template{Status: "APPROVED", Category: "MARKETING", Quality: "YELLOW"}, false},
		{"category", "template_category_update.json",
			catalog.Template{WABAID: "57438975935", Name: "my_message_template", Language: "he", Status: "APPROVED", Category: "UTILITY", ChangedAt: "2025-06-01T00:00:00Z"},
			catalog.Template{Status: "APPROVED", Category: "MARKETING"}, false},
		{"older than the last sync", "message_template_status_update_approved.json",
			catalog.Template{WABAID: "102290129340398", Name: "order_confirmation", Language: "en_US", Status: "PAUSED", Category: "UTILITY", ChangedAt: "2025-07-01T00:00:00Z"},
			catalog.Template{Status: "PAUSED", Category: "UTILITY"}, false},
		{"not in the catalog", "message_template_status_update_approved.json",
			catalog.Template{}, catalog.Template{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			store := &catalog.Store{API: dynamodb.NewFromConfig(e.cfg), Table: e.templatesTable}
			// The embedded emulator keeps the table across tests.
			left, err := store.List(ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range left {
				if err := store.Delete(ctx, "acme", catalog.Key{WABAID: l.WABAID, Name: l.Name, Language: l.Language}); err != nil {
					t.Fatal(err)
				}
			}
			if !tt.noEntry {
				held := tt.held
				held.TenantID, held.ID, held.Components, held.SyncedAt = "acme", "1", []byte(`[]`), "2023-01-01T00:00:00Z"
				if err := store.Put(ctx, held); err != nil {
					t.Fatal(err)
				}
			}
			body, err := os.ReadFile(filepath.Join("testdata/webhooks", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			units, err := whatsapp.Split(body)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range units {
				u.TenantID, u.ReceivedAt, u.Route = "acme", now.Format(time.RFC3339Nano), whatsapp.RoutePlatform
				if err := e.h.ProcessUnit(ctx, u); err != nil {
					t.Fatalf("%s: %v", tt.file, err)
				}
			}
			if n := len(e.events(t)); n != 1 {
				t.Errorf("%d events, want the account event", n)
			}
			all, err := store.List(ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			if tt.noEntry {
				if len(all) != 0 {
					t.Errorf("a webhook created catalog items: %+v", all)
				}
				return
			}
			if len(all) != 1 {
				t.Fatalf("catalog holds %d items, want 1", len(all))
			}
			got := all[0]
			if got.Status != tt.want.Status || got.Category != tt.want.Category || got.Quality != tt.want.Quality {
				t.Errorf("after %s: status %s category %s quality %s; want %s %s %s", tt.file,
					got.Status, got.Category, got.Quality, tt.want.Status, tt.want.Category, tt.want.Quality)
			}
		})
	}
}
