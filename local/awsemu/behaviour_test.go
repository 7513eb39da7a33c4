package awsemu

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

// These tests pin what AWS does where an implementation could differ.
// Where kumo (behind its front) or moto differs and the project lives with
// it, the case names the gap, checks that the implementation still does
// what docs/local.md says, and fails once it agrees with AWS, so that the
// table in docs/local.md can lose a row.

// names numbers queues and buckets: kumo keeps its state per process.
func uniqueName(prefix string) string { return fmt.Sprintf("%s-%d", prefix, tables.Add(1)) }

func behaviourQueue(tb testing.TB, c *sqs.Client, attrs map[string]string) *string {
	tb.Helper()
	a := map[string]string{"FifoQueue": "true"}
	for k, v := range attrs {
		a[k] = v
	}
	q, err := c.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(uniqueName("behaviour") + ".fifo"), Attributes: a})
	if err != nil {
		tb.Fatal(err)
	}
	return q.QueueUrl
}

func behaviourReceive(tb testing.TB, c *sqs.Client, q *string) []sqstypes.Message {
	tb.Helper()
	out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: q, MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"},
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out.Messages
}

// A FIFO queue with content-based deduplication keeps one of two equal
// bodies and names the body's SHA-256 as its deduplication id; a FIFO
// queue without it refuses a message without a deduplication id.
func TestFIFOContentBasedDeduplication(t *testing.T) {
	emu := StartTest(t)
	ctx := context.Background()
	c := sqs.NewFromConfig(emu.Config())
	q := behaviourQueue(t, c, map[string]string{"ContentBasedDeduplication": "true"})
	body := `{"job_id":"j-1"}`
	for i := 0; i < 2; i++ {
		if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q, MessageBody: aws.String(body), MessageGroupId: aws.String("g")}); err != nil {
			t.Fatal(err)
		}
	}
	msgs := behaviourReceive(t, c, q)
	if len(msgs) != 1 {
		t.Fatalf("%s: received %d messages, want 1", emu.Backend, len(msgs))
	}
	attrs := msgs[0].Attributes
	if attrs["MessageGroupId"] != "g" {
		t.Errorf("%s: MessageGroupId = %q, want g", emu.Backend, attrs["MessageGroupId"])
	}
	sum := sha256.Sum256([]byte(body))
	got, want := attrs["MessageDeduplicationId"], hex.EncodeToString(sum[:])
	switch gap := map[Backend]string{Kumo: "no deduplication id"}[emu.Backend]; {
	case gap != "":
		if got != "" {
			t.Fatalf("%s now gives MessageDeduplicationId %q: remove the gap here and in docs/local.md", emu.Backend, got)
		}
	case got != want:
		t.Errorf("%s: MessageDeduplicationId = %q, want the body's SHA-256 %q", emu.Backend, got, want)
	}

	plain := behaviourQueue(t, c, nil)
	_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: plain, MessageBody: aws.String(body), MessageGroupId: aws.String("g")})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidParameterValue" {
		t.Errorf("%s: send without deduplication id: %v, want InvalidParameterValue", emu.Backend, err)
	}
}

// SQS drops a message whose deduplication id it has seen on the queue in
// the last five minutes, even when the first one was already received and
// deleted; a duplicate send is still answered as accepted. Neither kumo
// nor moto remembers a deleted message's id: the front does (sqsdedup.go).
// With DeduplicationScope messageGroup the id counts within its group; on
// a queue with content-based deduplication the body is the id.
func TestFIFODeduplicationOutlivesDelete(t *testing.T) {
	emu := StartTest(t)
	ctx := context.Background()
	c := sqs.NewFromConfig(emu.Config())
	type send struct{ group, dedup, body string }
	cases := []struct {
		name  string
		attrs map[string]string
		first []send
		again []send // after the first ones were received and deleted
		want  []string
		// elapse is how long after the first sends the others are sent.
		elapse time.Duration
	}{
		{"same id", nil, []send{{"g", "d-1", "a"}}, []send{{"g", "d-1", "b"}}, nil, 0},
		{"same id, another group, queue scope", nil, []send{{"g", "d-1", "a"}}, []send{{"h", "d-1", "b"}}, nil, 0},
		{"same id, another group, group scope", map[string]string{"DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"},
			[]send{{"g", "d-1", "a"}}, []send{{"h", "d-1", "b"}, {"g", "d-1", "c"}}, []string{"b"}, 0},
		{"a batch of a duplicate and a new id", nil, []send{{"g", "d-1", "a"}}, []send{{"g", "d-1", "b"}, {"g", "d-2", "c"}}, []string{"c"}, 0},
		{"content-based", map[string]string{"ContentBasedDeduplication": "true"}, []send{{"g", "", "a"}}, []send{{"g", "", "a"}, {"g", "", "b"}}, []string{"b"}, 0},
		// After the window, an id is new again: SQS delivers it.
		{name: "same id after the window", first: []send{{"g", "d-1", "a"}}, again: []send{{"g", "d-1", "b"}}, want: []string{"b"}, elapse: 5 * time.Minute},
		{name: "same id just inside the window", first: []send{{"g", "d-1", "a"}}, again: []send{{"g", "d-1", "b"}}, want: nil, elapse: 5*time.Minute - time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := behaviourQueue(t, c, tc.attrs)
			sendAll := func(ss []send) *sqs.SendMessageBatchOutput {
				t.Helper()
				var entries []sqstypes.SendMessageBatchRequestEntry
				for i, m := range ss {
					e := sqstypes.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), MessageBody: aws.String(m.body), MessageGroupId: aws.String(m.group)}
					if m.dedup != "" {
						e.MessageDeduplicationId = aws.String(m.dedup)
					}
					entries = append(entries, e)
				}
				if len(ss) == 1 {
					// SendMessage, as a single send takes another path.
					in := &sqs.SendMessageInput{QueueUrl: q, MessageBody: entries[0].MessageBody, MessageGroupId: entries[0].MessageGroupId, MessageDeduplicationId: entries[0].MessageDeduplicationId}
					out, err := c.SendMessage(ctx, in)
					if err != nil {
						t.Fatal(err)
					}
					return &sqs.SendMessageBatchOutput{Successful: []sqstypes.SendMessageBatchResultEntry{{Id: aws.String("0"), MessageId: out.MessageId}}}
				}
				out, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: q, Entries: entries})
				if err != nil {
					t.Fatal(err)
				}
				if len(out.Failed) != 0 || len(out.Successful) != len(ss) {
					t.Fatalf("%s: batch answered %d successful, %d failed; want every send accepted", emu.Backend, len(out.Successful), len(out.Failed))
				}
				return out
			}
			sendAll(tc.first)
			for _, m := range behaviourReceive(t, c, q) {
				if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q, ReceiptHandle: m.ReceiptHandle}); err != nil {
					t.Fatal(err)
				}
			}
			emu.Elapse(tc.elapse)
			sendAll(tc.again)
			var got []string
			for _, m := range behaviourReceive(t, c, q) {
				got = append(got, aws.ToString(m.Body))
			}
			sort.Strings(got)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("%s: received %q after the first ones were deleted, want %q", emu.Backend, got, tc.want)
			}
		})
	}
	// A single duplicate send answers with the first message's id.
	q := behaviourQueue(t, c, nil)
	first, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q, MessageBody: aws.String("x"), MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String("d")})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range behaviourReceive(t, c, q) {
		if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q, ReceiptHandle: m.ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
	}
	dup, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q, MessageBody: aws.String("y"), MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String("d")})
	if err != nil {
		t.Fatalf("%s: duplicate send: %v", emu.Backend, err)
	}
	if aws.ToString(dup.MessageId) != aws.ToString(first.MessageId) {
		t.Errorf("%s: duplicate send answered message id %s, want the first one's %s", emu.Backend, aws.ToString(dup.MessageId), aws.ToString(first.MessageId))
	}
	// A known id does not make a send without a group valid.
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q, MessageBody: aws.String("z"), MessageDeduplicationId: aws.String("d")}); err == nil {
		t.Errorf("%s: a FIFO send without MessageGroupId was accepted", emu.Backend)
	}
}

// SQS answers a send with the MD5 of the body and of the message
// attributes, and gives both again on receive; the SDK checks them when
// they are there.
func TestSQSChecksums(t *testing.T) {
	emu := StartTest(t)
	ctx := context.Background()
	c := sqs.NewFromConfig(emu.Config())
	q := behaviourQueue(t, c, nil)
	body := "olá <&> 🙂"
	sum := md5.Sum([]byte(body))
	wantBody := hex.EncodeToString(sum[:])
	out, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q, MessageBody: aws.String(body),
		MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String("d"),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{"reason": {DataType: aws.String("String"), StringValue: aws.String("x")}}})
	if err != nil {
		t.Fatal(err)
	}
	msgs := behaviourReceive(t, c, q)
	if len(msgs) != 1 {
		t.Fatalf("%s: received %d messages, want 1", emu.Backend, len(msgs))
	}
	if got := aws.ToString(out.MD5OfMessageBody); got != wantBody {
		t.Errorf("%s: send MD5OfMessageBody = %q, want %q", emu.Backend, got, wantBody)
	}
	if got := aws.ToString(msgs[0].MD5OfBody); got != wantBody {
		t.Errorf("%s: receive MD5OfBody = %q, want %q", emu.Backend, got, wantBody)
	}
	sendAttrs, recvAttrs := aws.ToString(out.MD5OfMessageAttributes), aws.ToString(msgs[0].MD5OfMessageAttributes)
	if gap := map[Backend]string{Kumo: "no attribute checksum"}[emu.Backend]; gap != "" {
		if sendAttrs != "" || recvAttrs != "" {
			t.Fatalf("%s now gives MD5OfMessageAttributes: remove the gap here and in docs/local.md", emu.Backend)
		}
		return
	}
	if sendAttrs == "" || sendAttrs != recvAttrs {
		t.Errorf("%s: MD5OfMessageAttributes on send %q, on receive %q: want the same checksum on both", emu.Backend, sendAttrs, recvAttrs)
	}
}

func s3Client(emu *Emulator) *s3.Client {
	return s3.NewFromConfig(emu.Config(), func(o *s3.Options) { o.UsePathStyle = true })
}

func newBucket(tb testing.TB, c *s3.Client) string {
	tb.Helper()
	b := uniqueName("behaviour")
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
		tb.Fatal(err)
	}
	return b
}

// S3 refuses an upload whose body does not match the checksum it
// declares, and returns a flexible checksum it stored.
func TestS3Checksums(t *testing.T) {
	emu := StartTest(t)
	ctx := context.Background()
	c := s3Client(emu)
	bucket := newBucket(t, c)
	const crcOfHello = "NhCmhg==" // CRC32 of "hello", base64
	tests := []struct {
		name string
		in   s3.PutObjectInput
		want string // S3's error code; "" when S3 stores the object
		gaps map[Backend]string
	}{
		{name: "CRC32 computed by the SDK", in: s3.PutObjectInput{ChecksumAlgorithm: s3types.ChecksumAlgorithmCrc32}},
		{name: "CRC32 given", in: s3.PutObjectInput{ChecksumCRC32: aws.String(crcOfHello)}},
		{name: "wrong CRC32", in: s3.PutObjectInput{ChecksumCRC32: aws.String("AAAAAA==")}, want: "BadDigest", gaps: map[Backend]string{Moto: "accepts"}},
		{name: "wrong CRC32C", in: s3.PutObjectInput{ChecksumCRC32C: aws.String("AAAAAA==")}, want: "BadDigest", gaps: map[Backend]string{Moto: "accepts"}},
		{name: "wrong SHA256", in: s3.PutObjectInput{ChecksumSHA256: aws.String("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")}, want: "BadDigest", gaps: map[Backend]string{Moto: "accepts"}},
		{name: "wrong Content-MD5", in: s3.PutObjectInput{ContentMD5: aws.String("1B2M2Y8AsgTpgAmY7PhCfg==")}, want: "BadDigest", gaps: map[Backend]string{Moto: "accepts"}},
		{name: "right Content-MD5", in: s3.PutObjectInput{ContentMD5: aws.String("XUFAKrxLKna5cZ2REBfFkg==")}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.Bucket, in.Key, in.Body = aws.String(bucket), aws.String(fmt.Sprintf("k%d", i)), bytes.NewReader([]byte("hello"))
			_, err := c.PutObject(ctx, &in)
			if gap := tt.gaps[emu.Backend]; gap != "" {
				checkGap(t, emu.Backend, gap, err)
				return
			}
			if tt.want == "" {
				if err != nil {
					t.Fatalf("%s: %v, want the object stored", emu.Backend, err)
				}
				return
			}
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tt.want {
				t.Errorf("%s: %v, want %s", emu.Backend, err, tt.want)
			}
		})
	}

	t.Run("checksum returned", func(t *testing.T) {
		put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("sum"),
			Body: bytes.NewReader([]byte("hello")), ChecksumAlgorithm: s3types.ChecksumAlgorithmCrc32})
		if err != nil {
			t.Fatal(err)
		}
		get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("sum"), ChecksumMode: s3types.ChecksumModeEnabled})
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(get.Body) // the SDK checks the body against the checksum here
		get.Body.Close()
		if err != nil || string(b) != "hello" {
			t.Fatalf("%s: body %q, %v", emu.Backend, b, err)
		}
		onPut, onGet := aws.ToString(put.ChecksumCRC32), aws.ToString(get.ChecksumCRC32)
		if gap := map[Backend]string{Kumo: "no checksum"}[emu.Backend]; gap != "" {
			if onPut != "" || onGet != "" {
				t.Fatalf("%s now returns checksums: remove the gap here and in docs/local.md", emu.Backend)
			}
			return
		}
		if onPut != crcOfHello || onGet != crcOfHello {
			t.Errorf("%s: CRC32 on put %q, on get %q, want %q", emu.Backend, onPut, onGet, crcOfHello)
		}
	})
}

// S3 keeps user metadata keys as sent, lower-cased, underscores included
// (x-amz-meta-received_at). moto's HTTP server (werkzeug) drops every
// request header whose name has an underscore, so such keys never reach
// moto.
func TestS3UserMetadata(t *testing.T) {
	emu := StartTest(t)
	ctx := context.Background()
	c := s3Client(emu)
	bucket := newBucket(t, c)
	sent := map[string]string{"route": "platform", "received_at": "2026-01-02T03:04:05Z", "media-id": "m-1", "Sha256": "abc"}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"),
		Body: bytes.NewReader([]byte("{}")), Metadata: sent}); err != nil {
		t.Fatal(err)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	get.Body.Close()
	dropped := map[Backend]bool{Moto: true}[emu.Backend]
	for k, v := range sent {
		key := strings.ToLower(k)
		want := v
		if dropped && strings.Contains(k, "_") {
			want = ""
		}
		for call, md := range map[string]map[string]string{"HeadObject": head.Metadata, "GetObject": get.Metadata} {
			if got := md[key]; got != want {
				t.Errorf("%s: %s metadata[%q] = %q, want %q (all: %v)", emu.Backend, call, key, got, want, md)
			}
		}
	}
}

// DynamoDB deletes expired items in the background, typically within a
// few days; until then reads return them. Neither implementation deletes
// them at all: code must check expiry on every read and never count on
// deletion.
func TestDynamoDBKeepsExpiredItems(t *testing.T) {
	emu := StartTest(t)
	ctx := context.Background()
	c := dynamodb.NewFromConfig(emu.Config())
	table := newTable(t, c)
	if _, err := c.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(table),
		TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String("expires_at"), Enabled: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	item := ddbKey("a", "1")
	item["expires_at"] = &ddbtypes.AttributeValueMemberN{Value: "1000"} // 1970
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: ddbKey("a", "1"), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if got.Item == nil {
		t.Errorf("%s: the expired item is gone at once; AWS returns it until its background deletion", emu.Backend)
	}
}

func attrS(item map[string]ddbtypes.AttributeValue, name string) string {
	if v, ok := item[name].(*ddbtypes.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// A cancelled transaction names a code per item, "None" for the items that
// did not fail, and returns the item a condition failed on when asked to.
func TestTransactionCancellationReasons(t *testing.T) {
	emu := StartTest(t)
	ctx := context.Background()
	c := dynamodb.NewFromConfig(emu.Config())
	table := newTable(t, c)
	old := ddbKey("a", "1")
	old["v"] = ddbS("old")
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: old}); err != nil {
		t.Fatal(err)
	}
	_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
		{Put: &ddbtypes.Put{TableName: aws.String(table), Item: ddbKey("b", "1")}},
		{ConditionCheck: &ddbtypes.ConditionCheck{TableName: aws.String(table), Key: ddbKey("a", "1"),
			ConditionExpression: aws.String("v = :v"), ExpressionAttributeValues: ddbVals(":v", "new"),
			ReturnValuesOnConditionCheckFailure: ddbtypes.ReturnValuesOnConditionCheckFailureAllOld}},
		{Update: &ddbtypes.Update{TableName: aws.String(table), Key: ddbKey("c", "1"),
			UpdateExpression: aws.String("SET v = :v"), ExpressionAttributeValues: ddbVals(":v", "new")}},
	}})
	var tc *ddbtypes.TransactionCanceledException
	if !errors.As(err, &tc) {
		t.Fatalf("%s: %v, want TransactionCanceledException", emu.Backend, err)
	}
	var codes []string
	for _, r := range tc.CancellationReasons {
		codes = append(codes, aws.ToString(r.Code))
	}
	if got, want := strings.Join(codes, ","), "None,ConditionalCheckFailed,None"; got != want {
		t.Errorf("%s: codes %s, want %s", emu.Backend, got, want)
	}
	if got, want := tc.ErrorMessage(), "[None, ConditionalCheckFailed, None]"; !strings.HasSuffix(got, want) {
		t.Errorf("%s: message %q, want it to end in %q", emu.Backend, got, want)
	}
	if len(tc.CancellationReasons) == 3 {
		if got := attrS(tc.CancellationReasons[1].Item, "v"); got != "old" {
			t.Errorf("%s: reason item %v, want the item as it was (v = old)", emu.Backend, tc.CancellationReasons[1].Item)
		}
		if tc.CancellationReasons[0].Item != nil {
			t.Errorf("%s: item for a reason that did not fail: %v", emu.Backend, tc.CancellationReasons[0].Item)
		}
	}
}

// A failed condition on a single write returns the item only when the
// request asks for it with ReturnValuesOnConditionCheckFailure ALL_OLD.
func TestConditionalCheckFailedItem(t *testing.T) {
	emu := StartTest(t)
	ctx := context.Background()
	c := dynamodb.NewFromConfig(emu.Config())
	table := newTable(t, c)
	old := ddbKey("a", "1")
	old["v"] = ddbS("old")
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: old}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		call  func(rv ddbtypes.ReturnValuesOnConditionCheckFailure) error
		rv    ddbtypes.ReturnValuesOnConditionCheckFailure
		wantV string // v of the returned item; "" for none
	}{
		{"update asking", func(rv ddbtypes.ReturnValuesOnConditionCheckFailure) error {
			_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table), Key: ddbKey("a", "1"),
				UpdateExpression: aws.String("SET v = :v"), ConditionExpression: aws.String("v = :v"),
				ExpressionAttributeValues: ddbVals(":v", "new"), ReturnValuesOnConditionCheckFailure: rv})
			return err
		}, ddbtypes.ReturnValuesOnConditionCheckFailureAllOld, "old"},
		{"update not asking", func(rv ddbtypes.ReturnValuesOnConditionCheckFailure) error {
			_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table), Key: ddbKey("a", "1"),
				UpdateExpression: aws.String("SET v = :v"), ConditionExpression: aws.String("v = :v"),
				ExpressionAttributeValues: ddbVals(":v", "new"), ReturnValuesOnConditionCheckFailure: rv})
			return err
		}, "", ""},
		{"put asking", func(rv ddbtypes.ReturnValuesOnConditionCheckFailure) error {
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: ddbKey("a", "1"),
				ConditionExpression: aws.String("attribute_not_exists(pk)"), ReturnValuesOnConditionCheckFailure: rv})
			return err
		}, ddbtypes.ReturnValuesOnConditionCheckFailureAllOld, "old"},
		{"delete asking", func(rv ddbtypes.ReturnValuesOnConditionCheckFailure) error {
			_, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: ddbKey("a", "1"),
				ConditionExpression: aws.String("v = :v"), ExpressionAttributeValues: ddbVals(":v", "new"), ReturnValuesOnConditionCheckFailure: rv})
			return err
		}, ddbtypes.ReturnValuesOnConditionCheckFailureAllOld, "old"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ccf *ddbtypes.ConditionalCheckFailedException
			if err := tt.call(tt.rv); !errors.As(err, &ccf) {
				t.Fatalf("%s: %v, want ConditionalCheckFailedException", emu.Backend, err)
			}
			if got := attrS(ccf.Item, "v"); got != tt.wantV {
				t.Errorf("%s: item %v, want v = %q", emu.Backend, ccf.Item, tt.wantV)
			}
		})
	}
}

// AWS refuses a request signed with the wrong secret key
// (UnrecognizedClientException, InvalidSignatureException,
// SignatureDoesNotMatch). Neither implementation checks signatures: a
// credentials or signing mistake shows only on AWS.
func TestSignaturesNotChecked(t *testing.T) {
	emu := StartTest(t)
	ctx := context.Background()
	cfg := emu.Config()
	cfg.Credentials = credentials.NewStaticCredentialsProvider("local", "not-the-secret", "")
	calls := map[string]func() error{
		"DynamoDB": func() error {
			_, err := dynamodb.NewFromConfig(cfg).ListTables(ctx, &dynamodb.ListTablesInput{})
			return err
		},
		"SQS": func() error { _, err := sqs.NewFromConfig(cfg).ListQueues(ctx, &sqs.ListQueuesInput{}); return err },
		"S3": func() error {
			_, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).ListBuckets(ctx, &s3.ListBucketsInput{})
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			checkGap(t, emu.Backend, "accepts", call())
		})
	}
}

// S3 stores an upload's Content-Type and Content-Disposition and serves
// them on HeadObject, GetObject and a presigned GET (the media function
// relies on them to keep a sender's page from rendering inline).
func TestS3ContentHeaders(t *testing.T) {
	emu := StartTest(t)
	ctx := context.Background()
	c := s3Client(emu)
	bucket := newBucket(t, c)
	const typ, disp = "application/octet-stream", `attachment; filename="a.html"; filename*=UTF-8''a.html`
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"),
		Body: bytes.NewReader([]byte("<html></html>")), ContentType: aws.String(typ), ContentDisposition: aws.String(disp),
		Metadata: map[string]string{"media-id": "m-1"}}); err != nil {
		t.Fatal(err)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	get.Body.Close()
	for call, got := range map[string][2]string{
		"HeadObject": {aws.ToString(head.ContentType), aws.ToString(head.ContentDisposition)},
		"GetObject":  {aws.ToString(get.ContentType), aws.ToString(get.ContentDisposition)},
	} {
		if got != [2]string{typ, disp} {
			t.Errorf("%s: %s content type, disposition = %q, want %q", emu.Backend, call, got, [2]string{typ, disp})
		}
	}
	if want := map[string]string{"media-id": "m-1"}; len(head.Metadata) != 1 || head.Metadata["media-id"] != "m-1" {
		t.Errorf("%s: metadata = %v, want %v", emu.Backend, head.Metadata, want)
	}
	req, err := s3.NewPresignClient(c).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(req.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := [2]string{resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition")}; got != [2]string{typ, disp} {
		t.Errorf("%s: presigned GET content type, disposition = %q, want %q", emu.Backend, got, [2]string{typ, disp})
	}
	if got := resp.Header.Get(keptDisposition); got != "" {
		t.Errorf("%s: presigned GET leaks the front's entry %q", emu.Backend, got)
	}
}

// SQS refuses a FIFO group or deduplication id that is not 1 to 128
// alphanumeric or punctuation characters; 128 is accepted.
func TestSQSFIFOIDLimits(t *testing.T) {
	emu := StartTest(t)
	ctx := context.Background()
	c := sqs.NewFromConfig(emu.Config())
	q := behaviourQueue(t, c, nil)
	long := strings.Repeat("g", 128)
	for _, tt := range []struct {
		name, group, dedup string
		ok                 bool
	}{
		{"128 characters", long, long, true},
		{"punctuation", "t:1:US.12", "replay-1#x", true},
		{"group of 129", long + "g", "d1", false},
		{"deduplication id of 129", "g", long + "d", false},
		{"space in the group", "a b", "d2", false},
		{"non-ASCII group", "olá", "d3", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q, MessageBody: aws.String("x"),
				MessageGroupId: aws.String(tt.group), MessageDeduplicationId: aws.String(tt.dedup)})
			if (err == nil) != tt.ok {
				t.Errorf("%s: SendMessage error = %v, want accepted %v", emu.Backend, err, tt.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "InvalidParameterValue") {
				t.Errorf("%s: error %v, want InvalidParameterValue", emu.Backend, err)
			}
			_, err = c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: q, Entries: []sqstypes.SendMessageBatchRequestEntry{
				{Id: aws.String("1"), MessageBody: aws.String("x"), MessageGroupId: aws.String("ok"), MessageDeduplicationId: aws.String("b-" + tt.name[:3])},
				{Id: aws.String("2"), MessageBody: aws.String("x"), MessageGroupId: aws.String(tt.group), MessageDeduplicationId: aws.String(tt.dedup)},
			}})
			if (err == nil) != tt.ok {
				t.Errorf("%s: SendMessageBatch error = %v, want accepted %v", emu.Backend, err, tt.ok)
			}
		})
	}
}

// TestEndpointConfigClientIsLambdas: functions run locally reach the
// emulator through the client a function has in Lambda (the SDK's
// default): no limit on a whole request, so a campaign's audience, a
// streamed S3 body read for as long as the campaign runs, is never cut,
// and idle connections kept for functions running side by side.
func TestEndpointConfigClientIsLambdas(t *testing.T) {
	cfg := EndpointConfig("http://127.0.0.1:1")
	bc, ok := cfg.HTTPClient.(*awshttp.BuildableClient)
	if !ok {
		t.Fatalf("HTTP client %T, want the SDK's default *http.BuildableClient", cfg.HTTPClient)
	}
	if d := bc.GetTimeout(); d != 0 {
		t.Errorf("whole-request timeout %s: a streamed body read longer than that is cut", d)
	}
	if n := bc.GetTransport().MaxIdleConnsPerHost; n < awshttp.DefaultHTTPTransportMaxIdleConnsPerHost {
		t.Errorf("%d idle connections per host, want the SDK's %d", n, awshttp.DefaultHTTPTransportMaxIdleConnsPerHost)
	}
}
