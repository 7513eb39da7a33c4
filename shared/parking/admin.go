package parking

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Key prefixes: payloads waiting for an operator, and those replayed.
const (
	Prefix         = "parked/"
	ReplayedPrefix = "replayed/"
)

// Replayable reports whether a payload parked for reason can re-enter the
// inbound path: units the inbound function could not deliver then (unknown
// number or WABA, a tenant mismatch or a disabled tenant, a change nothing
// normalized), and whole webhook bodies over the size cap. Not replayable:
// bodies that are not WhatsApp payloads, and units larger than SQS accepts.
func Replayable(reason string) bool {
	switch reason {
	case ReasonUnknownPhoneNumber, ReasonUnknownWABA, ReasonTenantMismatch, ReasonTenantDisabled,
		ReasonUnhandledChange, ReasonNormalizeFailed, ReasonBodyTooLarge:
		return true
	}
	return false
}

// IsUnit reports whether payloads parked for reason are one inbound unit
// (the inbound queue message as the webhook wrote it); the others are
// whole webhook bodies.
func IsUnit(reason string) bool {
	switch reason {
	case ReasonUnknownPhoneNumber, ReasonUnknownWABA, ReasonTenantMismatch, ReasonTenantDisabled,
		ReasonUnhandledChange, ReasonNormalizeFailed, ReasonTooLarge:
		return true
	}
	return false
}

// AdminAPI is the part of the S3 client Admin uses.
type AdminAPI interface {
	API
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// Item is one parked (or replayed) payload.
type Item struct {
	Key          string            `json:"key"`
	Reason       string            `json:"reason"`
	Size         int64             `json:"size"`
	LastModified time.Time         `json:"last_modified"`
	Replayable   bool              `json:"replayable"`
	Metadata     map[string]string `json:"metadata,omitempty"`
}

// Admin lists, reads and archives parked payloads, for an operator.
type Admin struct {
	API    AdminAPI
	Bucket string
}

// ReasonOf is the reason folder of a parked or replayed key.
func ReasonOf(key string) string {
	rest, ok := strings.CutPrefix(key, Prefix)
	if !ok {
		rest, _ = strings.CutPrefix(key, ReplayedPrefix)
	}
	reason, _, _ := strings.Cut(rest, "/")
	return reason
}

// List returns up to max items under prefix (Prefix, Prefix+reason+"/",
// ReplayedPrefix...), oldest key first, with their metadata.
func (a Admin) List(ctx context.Context, prefix string, max int) ([]Item, error) {
	var items []Item
	var token *string
	for {
		out, err := a.API.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(a.Bucket), Prefix: aws.String(prefix), ContinuationToken: token})
		if err != nil {
			return items, fmt.Errorf("list s3://%s/%s: %w", a.Bucket, prefix, err)
		}
		for _, o := range out.Contents {
			if max > 0 && len(items) >= max {
				return items, nil
			}
			key := aws.ToString(o.Key)
			head, err := a.API.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(a.Bucket), Key: o.Key})
			if err != nil {
				return items, fmt.Errorf("read s3://%s/%s: %w", a.Bucket, key, err)
			}
			reason := ReasonOf(key)
			items = append(items, Item{Key: key, Reason: reason, Size: aws.ToInt64(o.Size), LastModified: aws.ToTime(o.LastModified),
				Replayable: Replayable(reason), Metadata: head.Metadata})
		}
		if !aws.ToBool(out.IsTruncated) {
			return items, nil
		}
		token = out.NextContinuationToken
	}
}

// Get reads one payload and its metadata.
func (a Admin) Get(ctx context.Context, key string) (Item, []byte, error) {
	out, err := a.API.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(a.Bucket), Key: aws.String(key)})
	if err != nil {
		return Item{}, nil, fmt.Errorf("read s3://%s/%s: %w", a.Bucket, key, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		return Item{}, nil, fmt.Errorf("read s3://%s/%s: %w", a.Bucket, key, err)
	}
	reason := ReasonOf(key)
	return Item{Key: key, Reason: reason, Size: int64(len(body)), LastModified: aws.ToTime(out.LastModified),
		Replayable: Replayable(reason), Metadata: out.Metadata}, body, nil
}

// Archive moves a parked payload to replayed/ (same reason, date and name,
// metadata plus replayed-at) before it is replayed: once it is gone from
// parked/, whatever appears there again is a new parking (the replay found
// it still undeliverable), never the one just replayed.
func (a Admin) Archive(ctx context.Context, it Item, body []byte, at time.Time) (string, error) {
	rest, ok := strings.CutPrefix(it.Key, Prefix)
	if !ok {
		return "", fmt.Errorf("archive %s: not a parked key", it.Key)
	}
	archived := ReplayedPrefix + rest
	md := map[string]string{}
	for k, v := range it.Metadata {
		md[k] = v
	}
	md["replayed-at"] = at.UTC().Format(time.RFC3339)
	if err := a.put(ctx, archived, body, md); err != nil {
		return "", fmt.Errorf("archive %s: %w", it.Key, err)
	}
	if _, err := a.API.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(a.Bucket), Key: aws.String(it.Key)}); err != nil {
		_, _ = a.API.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(a.Bucket), Key: aws.String(archived)})
		return "", fmt.Errorf("archive %s: delete the parked copy: %w", it.Key, err)
	}
	return archived, nil
}

// Restore undoes Archive after a replay that could not publish.
func (a Admin) Restore(ctx context.Context, it Item, archived string, body []byte) error {
	err := a.put(ctx, it.Key, body, it.Metadata)
	if err == nil {
		_, err = a.API.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(a.Bucket), Key: aws.String(archived)})
	}
	if err != nil {
		return fmt.Errorf("restore %s from %s: %w", it.Key, archived, err)
	}
	return nil
}

func (a Admin) put(ctx context.Context, key string, body []byte, md map[string]string) error {
	_, err := a.API.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(a.Bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentType: aws.String("application/json"), Metadata: md,
	})
	return err
}

// ErrNotReplayable is returned for a payload whose reason cannot re-enter
// the inbound path.
var ErrNotReplayable = errors.New("not replayable")
