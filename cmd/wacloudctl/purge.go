package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/tucanlink/wacloud/shared/tenant"
)

// purgeTenant deletes what the connector stored for a deleted tenant
// before its retention would: every version of its media objects under
// tenants/{id}/ in the data bucket, its message records, its job records
// and other state items carrying its tenant_id, and the contact windows
// and rate limits of its numbers. Parked webhook payloads (parked/, 90
// days) are not sorted by tenant and age out.
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
	state := owned
	for _, pn := range t.PhoneNumbers {
		state = state.Or(expression.BeginsWith(expression.Name("pk"), "window#"+pn+"#")).
			Or(expression.Name("pk").Equal(expression.Value("rate#num#" + pn))).
			Or(expression.BeginsWith(expression.Name("pk"), "rate#pair#"+pn+"#"))
	}
	items, err := purgeItems(ctx, a, a.names.StateTable, state)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "purged %d job, window and rate record(s) from %s\n", items, a.names.StateTable)
	return nil
}

// needPurge checks the names a purge uses are known; call it after resolve.
func (a *app) needPurge() error {
	for _, n := range []struct{ what, v, flag string }{
		{"messages table", a.names.MessagesTable, "messages-table"},
		{"state table", a.names.StateTable, "state-table"},
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
