package catalog

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tucanlink/wacloud/shared/graph"
	"github.com/tucanlink/wacloud/shared/metrics"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// Setup builds the scheduled templates function from its environment:
// TEMPLATES_TABLE and TENANTS_TABLE (required), GRAPH_API_BASE_URL and
// GRAPH_API_VERSION (optional, Meta's by default).
func Setup(ctx context.Context, getenv func(string) string, cfg aws.Config) (*Handler, error) {
	var missing []string
	for _, k := range []string{"TEMPLATES_TABLE", "TENANTS_TABLE"} {
		if getenv(k) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("templates setup: missing environment: %s", strings.Join(missing, ", "))
	}
	ddb := dynamodb.NewFromConfig(cfg)
	rec := &metrics.Recorder{Function: "templates"}
	return &Handler{
		Tenants: &tenant.Registry{API: ddb, Table: getenv("TENANTS_TABLE")},
		Secrets: &tenant.Vault{API: secretsmanager.NewFromConfig(cfg)},
		Syncer: &Syncer{
			Meta:      &graph.Client{BaseURL: getenv("GRAPH_API_BASE_URL"), Version: getenv("GRAPH_API_VERSION"), Metrics: rec},
			Templates: &Store{API: ddb, Table: getenv("TEMPLATES_TABLE")},
		},
		Metrics: rec,
	}, nil
}
