package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/tucanlink/wacloud/shared/campaign/tally"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// purgeTenant deletes what the connector stored for a deleted tenant
// before its retention would: every version of its media objects under
// tenants/{id}/ in the data bucket, its message records, its job records
// and other state items carrying its tenant_id, its campaigns' recipient
// claims and its contacts' identities, the contact windows, rate limits
// and health of its numbers, the messaging-limit counts of its WABAs
// (recipients included), and everything under its partition key in the
// suppressions, templates and campaigns tables (its opt-out list, its
// catalog, its campaigns with their count shards). Parked webhook
// payloads (parked/, 90 days) are not sorted by tenant and age out.
func purgeTenant(ctx context.Context, a *app, t tenant.Tenant) error {
	if err := a.needPurge(); err != nil {
		return err
	}
	objects, err := purgeObjects(ctx, a, "tenants/"+t.ID+"/")
	if err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "purged %d media object version(s) under s3://%s/tenants/%s/\n", objects, a.names.DataBucket, t.ID)
	owned := expression.Name("tenant_id").Equal(expression.Value(t.ID))
	msgs, err := purgeItems(ctx, a, a.names.MessagesTable, owned)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "purged %d message record(s) from %s\n", msgs, a.names.MessagesTable)
	pk := expression.Name("pk")
	state := owned.
		Or(expression.BeginsWith(pk, "campaign#"+t.ID+"#")).
		Or(expression.BeginsWith(pk, "contact#"+t.ID+"#"))
	for _, pn := range t.PhoneNumbers {
		state = state.Or(expression.BeginsWith(pk, "window#"+pn+"#")).
			Or(pk.Equal(expression.Value("rate#num#" + pn))).
			Or(expression.BeginsWith(pk, "rate#pair#"+pn+"#")).
			Or(pk.Equal(expression.Value("msglimit#n#" + pn)))
	}
	for _, waba := range t.WABAIDs {
		state = state.Or(pk.Equal(expression.Value("msglimit#p#" + waba))).
			Or(expression.BeginsWith(pk, "msglimit#r#"+waba+"#"))
	}
	items, err := purgeItems(ctx, a, a.names.StateTable, state)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "purged %d job, claim, identity, window, rate and messaging-limit record(s) from %s\n", items, a.names.StateTable)
	for _, tbl := range []struct{ name, what string }{
		{a.names.SuppressionsTable, "suppression"},
		{a.names.TemplatesTable, "template"},
		{a.names.CampaignsTable, "campaign"},
	} {
		n, err := purgePartition(ctx, a, tbl.name, t.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.Stdout, "purged %d %s item(s) from %s\n", n, tbl.what, tbl.name)
	}
	return nil
}

// purgePartition deletes the tenant's partition (pk tenant#{id}) of a
// table keyed by pk and sk, and, in the campaigns table, each campaign's
// count shards (their own partition keys, tally.Keys).
func purgePartition(ctx context.Context, a *app, table, tenantID string) (int, error) {
	c := a.dynamo()
	n := 0
	var start map[string]ddbtypes.AttributeValue
	for {
		page, err := c.Query(ctx, &dynamodb.QueryInput{
			TableName: aws.String(table), KeyConditionExpression: aws.String("pk = :pk"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": &ddbtypes.AttributeValueMemberS{Value: "tenant#" + tenantID}},
			ProjectionExpression:      aws.String("pk, sk"), ExclusiveStartKey: start,
		})
		if err != nil {
			return n, fmt.Errorf("purge %s: query: %w", table, err)
		}
		for _, it := range page.Items {
			keys := []map[string]ddbtypes.AttributeValue{{"pk": it["pk"], "sk": it["sk"]}}
			if sk, ok := it["sk"].(*ddbtypes.AttributeValueMemberS); ok && table == a.names.CampaignsTable {
				// A campaign record (not an earlier layout's shard): its
				// shards under their own partition keys go with it.
				if id, ok := strings.CutPrefix(sk.Value, "campaign#"); ok && !strings.Contains(id, "#") {
					keys = append(keys, tally.Keys(tenantID, id)...)
				}
			}
			for _, k := range keys {
				if _, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: k}); err != nil {
					return n, fmt.Errorf("purge %s: delete an item: %w", table, err)
				}
			}
			n++
		}
		if len(page.LastEvaluatedKey) == 0 {
			return n, nil
		}
		start = page.LastEvaluatedKey
	}
}

// needPurge checks the names a purge uses are known; call it after resolve.
func (a *app) needPurge() error {
	for _, n := range []struct{ what, v, flag string }{
		{"messages table", a.names.MessagesTable, "messages-table"},
		{"state table", a.names.StateTable, "state-table"},
		{"suppressions table", a.names.SuppressionsTable, "suppressions-table"},
		{"templates table", a.names.TemplatesTable, "templates-table"},
		{"campaigns table", a.names.CampaignsTable, "campaigns-table"},
		{"data bucket", a.names.DataBucket, "data-bucket"},
	} {
		if err := a.need(n.what, n.v, n.flag); err != nil {
			return err
		}
	}
	return nil
}

// purgeObjects deletes every version and delete marker under prefix (the
// bucket is versioned: deleting the current version only would keep the
// data).
func purgeObjects(ctx context.Context, a *app, prefix string) (int, error) {
	c := s3.NewFromConfig(a.cfg, func(o *s3.Options) { o.UsePathStyle = a.local() })
	n := 0
	var key, version *string
	for {
		page, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{
			Bucket: aws.String(a.names.DataBucket), Prefix: aws.String(prefix), KeyMarker: key, VersionIdMarker: version,
		})
		if err != nil {
			return n, fmt.Errorf("list media of s3://%s/%s: %w", a.names.DataBucket, prefix, err)
		}
		var ids []s3types.ObjectIdentifier
		for _, v := range page.Versions {
			ids = append(ids, s3types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
		}
		for _, m := range page.DeleteMarkers {
			ids = append(ids, s3types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
		}
		if len(ids) > 0 {
			out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(a.names.DataBucket), Delete: &s3types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
			if err != nil {
				return n, fmt.Errorf("delete media under s3://%s/%s: %w", a.names.DataBucket, prefix, err)
			}
			if len(out.Errors) > 0 {
				e := out.Errors[0]
				return n, fmt.Errorf("delete media s3://%s/%s: %s %s (and %d more)", a.names.DataBucket, aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message), len(out.Errors)-1)
			}
			n += len(ids)
		}
		if !aws.ToBool(page.IsTruncated) {
			return n, nil
		}
		key, version = page.NextKeyMarker, page.NextVersionIdMarker
	}
}

// purgeItems deletes the items of table that match filter.
func purgeItems(ctx context.Context, a *app, table string, filter expression.ConditionBuilder) (int, error) {
	e, err := expression.NewBuilder().WithFilter(filter).WithProjection(expression.NamesList(expression.Name("pk"))).Build()
	if err != nil {
		return 0, fmt.Errorf("purge %s: build filter: %w", table, err)
	}
	c := a.dynamo()
	n := 0
	var start map[string]ddbtypes.AttributeValue
	for {
		page, err := c.Scan(ctx, &dynamodb.ScanInput{
			TableName: aws.String(table), FilterExpression: e.Filter(), ProjectionExpression: e.Projection(),
			ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(), ExclusiveStartKey: start,
		})
		if err != nil {
			return n, fmt.Errorf("purge %s: scan: %w", table, err)
		}
		for _, it := range page.Items {
			if _, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: map[string]ddbtypes.AttributeValue{"pk": it["pk"]}}); err != nil {
				return n, fmt.Errorf("purge %s: delete an item: %w", table, err)
			}
			n++
		}
		if len(page.LastEvaluatedKey) == 0 {
			return n, nil
		}
		start = page.LastEvaluatedKey
	}
}
