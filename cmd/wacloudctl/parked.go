package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/shared/parking"
	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/whatsapp"
)

// parkingAdmin returns the parked payloads of the data bucket.
func (a *app) parkingAdmin(ctx context.Context) (parking.Admin, error) {
	if err := a.resolve(ctx); err != nil {
		return parking.Admin{}, err
	}
	if err := a.need("data bucket", a.names.DataBucket, "data-bucket"); err != nil {
		return parking.Admin{}, err
	}
	c := s3.NewFromConfig(a.cfg, func(o *s3.Options) {
		o.UsePathStyle = a.local()
		// The emulators send no response checksums; do not log each one.
		o.DisableLogOutputChecksumValidationSkipped = a.local()
	})
	return parking.Admin{API: c, Bucket: a.names.DataBucket}, nil
}

func parkedList(ctx context.Context, a *app, args []string) error {
	fs := a.flags("[--reason REASON] [--replayed] [--max N] [--json]")
	reason := fs.String("reason", "", "only this reason (unknown_phone_number, tenant_disabled, body_too_large, ...)")
	replayed := fs.Bool("replayed", false, "list the replayed payloads (replayed/) instead of those waiting (parked/)")
	max := fs.Int("max", 1000, "most payloads listed")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	adm, err := a.parkingAdmin(ctx)
	if err != nil {
		return err
	}
	prefix := parking.Prefix
	if *replayed {
		prefix = parking.ReplayedPrefix
	}
	if *reason != "" {
		prefix += *reason + "/"
	}
	items, err := adm.List(ctx, prefix, *max)
	if err != nil {
		return err
	}
	if *asJSON {
		if items == nil {
			items = []parking.Item{}
		}
		return printJSON(a.Stdout, items)
	}
	if len(items) == 0 {
		fmt.Fprintf(a.Stdout, "nothing under s3://%s/%s\n", adm.Bucket, prefix)
		return nil
	}
	tw := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tREASON\tRECEIVED\tROUTE\tPHONE NUMBER\tTENANT\tBYTES\tREPLAYABLE\tREPLAYED")
	for _, it := range items {
		md := it.Metadata
		route := md["route"]
		if t := md["route-tenant"]; t != "" {
			route += "/" + t
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", it.Key, it.Reason, dash(md["received-at"]), dash(route),
			dash(md["phone-number-id"]), dash(md["tenant-id"]), it.Size, yesNo(it.Replayable), dash(md["replayed-at"]))
	}
	return tw.Flush()
}

func parkedReplay(ctx context.Context, a *app, args []string) error {
	fs := a.flags("(--key KEY ... | --reason REASON | --all) [--dry-run] [--yes]")
	var keys list
	fs.Var(&keys, "key", "replay this payload (repeatable); a replayed/ key is published again")
	reason := fs.String("reason", "", "replay every parked payload of this reason")
	all := fs.Bool("all", false, "replay every replayable parked payload")
	max := fs.Int("max", 1000, "most payloads replayed")
	dryRun := fs.Bool("dry-run", false, "say what would be replayed, change nothing")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	chosen := 0
	for _, set := range []bool{len(keys) > 0, *reason != "", *all} {
		if set {
			chosen++
		}
	}
	if chosen != 1 {
		return usageErr("give exactly one of --key, --reason or --all")
	}
	if *reason != "" && !parking.Replayable(*reason) {
		return usageErr("payloads parked as %s cannot be replayed (not WhatsApp payloads, or a unit larger than SQS accepts)", *reason)
	}
	adm, err := a.parkingAdmin(ctx)
	if err != nil {
		return err
	}
	inbound := ""
	for _, q := range a.names.Queues {
		if q.Name == "Inbound" {
			inbound = q.SourceURL
		}
	}
	if inbound == "" {
		return usageErr("inbound queue unknown: pass --stack or --endpoint-url http://127.0.0.1:4566")
	}

	var items []parking.Item
	switch {
	case len(keys) > 0:
		for _, k := range keys {
			r := parking.ReasonOf(k)
			if !strings.HasPrefix(k, parking.Prefix) && !strings.HasPrefix(k, parking.ReplayedPrefix) || r == "" {
				return usageErr("%q is not a parked/ or replayed/ key", k)
			}
			if !parking.Replayable(r) {
				return usageErr("%s: payloads parked as %s cannot be replayed", k, r)
			}
			items = append(items, parking.Item{Key: k, Reason: r})
		}
	default:
		prefix := parking.Prefix
		if *reason != "" {
			prefix += *reason + "/"
		}
		listed, err := adm.List(ctx, prefix, 0)
		if err != nil {
			return err
		}
		for _, it := range listed {
			if it.Replayable && len(items) < *max {
				items = append(items, it)
			}
		}
	}
	if len(items) == 0 {
		fmt.Fprintln(a.Stdout, "nothing to replay")
		return nil
	}
	if !*dryRun {
		if err := a.confirm(*yes, "Replay %d parked payload(s) into the inbound queue?", len(items)); err != nil {
			return err
		}
	}
	r := replayer{adm: adm, pub: queue.Publisher{API: sqs.NewFromConfig(a.cfg)}, inboundURL: inbound, now: time.Now}
	var failed int
	for _, it := range items {
		line, err := r.replay(ctx, it.Key, *dryRun)
		var gone *s3types.NoSuchKey
		if len(keys) == 0 && errors.As(err, &gone) {
			// Listed, then moved by a replay running at the same time.
			fmt.Fprintf(a.Stdout, "%s: gone since it was listed (replayed meanwhile), skipped\n", it.Key)
			continue
		}
		if err != nil {
			failed++
			fmt.Fprintf(a.Stderr, "%s: %v\n", it.Key, err)
			continue
		}
		fmt.Fprintln(a.Stdout, line)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d payloads not replayed", failed, len(items))
	}
	return nil
}

// replayer puts parked payloads back on the inbound queue.
type replayer struct {
	adm        parking.Admin
	pub        queue.Publisher
	inboundURL string
	now        func() time.Time
}

// replay publishes one payload's units to the inbound queue. A parked
// payload is moved to replayed/ first, and back if the publish fails. The
// units then take the normal inbound path: the inbound function's dedup
// (event ids, unit keys) lets each Meta event through once however often it
// is replayed, and a unit still undeliverable is parked again.
func (r replayer) replay(ctx context.Context, key string, dryRun bool) (string, error) {
	it, body, err := r.adm.Get(ctx, key)
	if err != nil {
		return "", err
	}
	at := r.now().UTC()
	msgs, tooLarge, err := replayMessages(it, body, at)
	if err != nil {
		return "", err
	}
	if dryRun {
		return fmt.Sprintf("%s: would publish %d unit(s) to the inbound queue%s", key, len(msgs), tooLargeNote(len(tooLarge))), nil
	}
	for _, u := range tooLarge {
		// As the webhook does: a unit SQS cannot carry is kept for an
		// operator, the payload's other units go on.
		if _, err := (parking.Store{API: r.adm.API, Bucket: r.adm.Bucket, Now: r.now}).Park(ctx, parking.ReasonTooLarge, u.body, u.meta); err != nil {
			return "", err
		}
	}
	archived := ""
	if strings.HasPrefix(key, parking.Prefix) {
		if archived, err = r.adm.Archive(ctx, it, body, at); err != nil {
			return "", err
		}
	}
	if err := r.pub.Publish(ctx, r.inboundURL, msgs...); err != nil {
		err = fmt.Errorf("publish %d unit(s) to the inbound queue: %w", len(msgs), err)
		if archived != "" {
			if rerr := r.adm.Restore(ctx, it, archived, body); rerr != nil {
				return "", errors.Join(err, rerr)
			}
		}
		return "", err
	}
	if archived == "" {
		return fmt.Sprintf("%s: published %d unit(s) again%s", key, len(msgs), tooLargeNote(len(tooLarge))), nil
	}
	return fmt.Sprintf("%s: published %d unit(s), moved to %s%s", key, len(msgs), archived, tooLargeNote(len(tooLarge))), nil
}

func tooLargeNote(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d unit(s) too large for SQS parked as %s)", n, parking.ReasonTooLarge)
}

type parkedUnit struct {
	body []byte
	meta parking.Meta
}

// replayMessages turns a parked payload into inbound queue messages: a unit
// as it was, a whole webhook body split as the webhook splits it. Each unit
// is marked with the replay (its time): a replay is a delivery of its own
// for the inbound function's dedup claim, so a Meta event already delivered
// by an earlier replay or by Meta is a duplicate, and the second replay of
// a unit does not pass as the first one's retry. Each message's
// deduplication id is new too, so SQS's 5-minute window never swallows a
// replay of something just parked.
func replayMessages(it parking.Item, body []byte, at time.Time) ([]queue.Message, []parkedUnit, error) {
	if !parking.Replayable(it.Reason) {
		return nil, nil, fmt.Errorf("payloads parked as %s cannot be replayed: %w", it.Reason, parking.ErrNotReplayable)
	}
	replay := at.UTC().Format(time.RFC3339Nano)
	dedup := func(b []byte) string {
		sum := sha256.Sum256(append(append([]byte(nil), b...), []byte("\x00replay\x00"+strconv.FormatInt(at.UnixNano(), 10))...))
		return "replay-" + hex.EncodeToString(sum[:])
	}
	if parking.IsUnit(it.Reason) {
		var u whatsapp.Unit
		if err := json.Unmarshal(body, &u); err != nil || u.Kind == "" {
			return nil, nil, fmt.Errorf("parked unit does not decode: %v", err)
		}
		u.Replay = replay
		b, err := json.Marshal(u)
		if err != nil {
			return nil, nil, fmt.Errorf("encode parked unit: %w", err)
		}
		m := queue.Message{Body: string(b), GroupID: u.OrderKey(), DedupID: dedup(b)}
		if queue.TooLarge(m) {
			return nil, nil, fmt.Errorf("parked unit with its replay mark is larger than SQS accepts")
		}
		return []queue.Message{m}, nil, nil
	}
	md := it.Metadata
	units, err := whatsapp.Split(body)
	if err != nil {
		return nil, nil, fmt.Errorf("split parked body: %w", err)
	}
	if md["route"] != whatsapp.RoutePlatform && md["route"] != whatsapp.RouteTenant {
		return nil, nil, fmt.Errorf("parked body has no route metadata (route %q)", md["route"])
	}
	var msgs []queue.Message
	var tooLarge []parkedUnit
	for i := range units {
		u := &units[i]
		u.Route, u.RouteTenant, u.ReceivedAt = md["route"], md["route-tenant"], md["received-at"]
		u.Replay = replay
		b, err := json.Marshal(u)
		if err != nil {
			return nil, nil, fmt.Errorf("encode unit %d: %w", u.Seq, err)
		}
		m := queue.Message{Body: string(b), GroupID: u.OrderKey(), DedupID: dedup(b)}
		if queue.TooLarge(m) {
			tooLarge = append(tooLarge, parkedUnit{body: b, meta: parking.Meta{Route: u.Route, RouteTenant: u.RouteTenant,
				PhoneNumberID: u.Metadata.PhoneNumberID, WABAID: u.WABAID, ReceivedAt: u.ReceivedAt}})
			continue
		}
		msgs = append(msgs, m)
	}
	return msgs, tooLarge, nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
