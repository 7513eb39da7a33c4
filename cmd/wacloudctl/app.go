package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/shared/tenant"
)

// app is one command's run: flags, AWS configuration and resolved names.
type app struct {
	Main
	cmd, summary string
	fs           *flag.FlagSet // the command's flags, once registered
	usage        string        // the command's synopsis

	endpoint, region, stack string
	stackFlag               bool // --stack was given (not only WACLOUD_STACK)
	names                   Names

	cfg      aws.Config
	loaded   bool
	resolved bool
	stdin    *bufio.Reader
}

// Names are the deployment's resources a command may use.
type Names struct {
	TenantsTable  string
	MessagesTable string
	// TemplatesTable is the template catalog (shared/catalog).
	TemplatesTable string
	// SuppressionsTable holds the tenants' suppression lists
	// (shared/suppression).
	SuppressionsTable string
	// CampaignsTable holds the tenants' campaigns and their count shards
	// (shared/campaign).
	CampaignsTable string
	StateTable     string
	DataBucket     string // media objects, under tenants/{tenant_id}/
	SecretPrefix   string // tenant sending secrets are SecretPrefix + tenant id
	// WebhookSecretPrefix names tenants' webhook-side secrets (app secret,
	// verify token): WebhookSecretPrefix + tenant id.
	WebhookSecretPrefix string
	// The platform app's sending and webhook-side secrets.
	PlatformSecretID        string
	PlatformWebhookSecretID string
	OutboundQueueURL        string
	// MetaAppSecretID is the platform's Meta app secret
	// ({"app_id","app_secret"}: code exchange, debug_token).
	MetaAppSecretID string
	// Queues pairs every source queue with its dead-letter queue.
	Queues []QueuePair
}

// QueuePair is a queue and its dead-letter queue.
type QueuePair struct {
	Name      string // logical name: Inbound, CoreEvents, Outbound, Media, Status
	SourceURL string
	DLQURL    string
}

// queueNames are the template's queues, in flow order.
var queueNames = []string{"Inbound", "CoreEvents", "Outbound", "Media", "Status"}

// fifo tells which of them are FIFO queues (their local names end in .fifo).
var fifo = map[string]bool{"Inbound": true, "CoreEvents": true, "Outbound": true}

// flags returns the command's flag set with the common flags registered.
func (a *app) flags(usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("wacloudctl "+a.cmd, flag.ContinueOnError)
	// Errors are printed once, by Main.Run.
	fs.SetOutput(io.Discard)
	env := func(k, def string) string {
		if v := a.Getenv(k); v != "" {
			return v
		}
		return def
	}
	a.stack = env("WACLOUD_STACK", "")
	fs.Func("stack", "CloudFormation stack whose outputs name the resources (env WACLOUD_STACK; against a local --endpoint-url only when given as a flag)", func(v string) error {
		a.stack, a.stackFlag = v, true
		return nil
	})
	fs.StringVar(&a.endpoint, "endpoint-url", env("WACLOUD_ENDPOINT_URL", a.Getenv("AWS_ENDPOINT_URL")), "AWS endpoint; http://127.0.0.1:4566 for make local (env WACLOUD_ENDPOINT_URL)")
	fs.StringVar(&a.region, "region", env("AWS_REGION", a.Getenv("AWS_DEFAULT_REGION")), "AWS region (env AWS_REGION)")
	fs.StringVar(&a.names.TenantsTable, "tenants-table", a.Getenv("WACLOUD_TENANTS_TABLE"), "tenant registry table (env WACLOUD_TENANTS_TABLE)")
	fs.StringVar(&a.names.TemplatesTable, "templates-table", a.Getenv("WACLOUD_TEMPLATES_TABLE"), "template catalog table (env WACLOUD_TEMPLATES_TABLE)")
	fs.StringVar(&a.names.SuppressionsTable, "suppressions-table", a.Getenv("WACLOUD_SUPPRESSIONS_TABLE"), "suppression lists table (env WACLOUD_SUPPRESSIONS_TABLE)")
	fs.StringVar(&a.names.CampaignsTable, "campaigns-table", a.Getenv("WACLOUD_CAMPAIGNS_TABLE"), "campaigns table (env WACLOUD_CAMPAIGNS_TABLE)")
	fs.StringVar(&a.names.MessagesTable, "messages-table", a.Getenv("WACLOUD_MESSAGES_TABLE"), "message records table (env WACLOUD_MESSAGES_TABLE)")
	fs.StringVar(&a.names.StateTable, "state-table", a.Getenv("WACLOUD_STATE_TABLE"), "state table: job records, windows, rate limits (env WACLOUD_STATE_TABLE)")
	fs.StringVar(&a.names.DataBucket, "data-bucket", a.Getenv("WACLOUD_DATA_BUCKET"), "data bucket: media under tenants/{tenant_id}/ (env WACLOUD_DATA_BUCKET)")
	fs.StringVar(&a.names.SecretPrefix, "secret-prefix", a.Getenv("WACLOUD_TENANT_SECRET_PREFIX"), "prefix of tenant sending secret names (env WACLOUD_TENANT_SECRET_PREFIX)")
	fs.StringVar(&a.names.WebhookSecretPrefix, "webhook-secret-prefix", a.Getenv("WACLOUD_TENANT_WEBHOOK_SECRET_PREFIX"), "prefix of tenant webhook-side secret names (env WACLOUD_TENANT_WEBHOOK_SECRET_PREFIX)")
	fs.StringVar(&a.names.PlatformSecretID, "platform-secret", a.Getenv("WACLOUD_PLATFORM_SECRET_ID"), "the platform app's sending secret (env WACLOUD_PLATFORM_SECRET_ID)")
	fs.StringVar(&a.names.PlatformWebhookSecretID, "platform-webhook-secret", a.Getenv("WACLOUD_PLATFORM_WEBHOOK_SECRET_ID"), "the platform app's webhook-side secret (env WACLOUD_PLATFORM_WEBHOOK_SECRET_ID)")
	fs.StringVar(&a.names.MetaAppSecretID, "meta-app-secret", a.Getenv("WACLOUD_META_APP_SECRET_ID"), "the platform's Meta app secret {app_id, app_secret} (env WACLOUD_META_APP_SECRET_ID)")
	fs.StringVar(&a.names.OutboundQueueURL, "outbound-queue-url", a.Getenv("WACLOUD_OUTBOUND_QUEUE_URL"), "outbound queue URL (env WACLOUD_OUTBOUND_QUEUE_URL)")
	// Main.Run prints the usage: on stdout for --help, on stderr after
	// a flag error.
	fs.Usage = func() {}
	a.fs, a.usage = fs, usage
	return fs
}

// flagError is a flag the command does not take, or a bad flag value.
type flagError struct{ err error }

func (e *flagError) Error() string { return e.err.Error() }
func (e *flagError) Unwrap() error { return e.err }

// parse parses the command's flags; its errors are *flagError, except
// flag.ErrHelp for -h and --help.
func (a *app) parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return &flagError{err: err}
}

// printUsage writes the command's usage and flags to w.
func (a *app) printUsage(w io.Writer) {
	fmt.Fprintf(w, "usage: wacloudctl %s %s\n\n", a.cmd, a.usage)
	fmt.Fprintf(w, "%s.\n\nFlags:\n", upperFirst(a.summary))
	if a.fs != nil {
		a.fs.SetOutput(w)
		a.fs.PrintDefaults()
	}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// local reports whether the endpoint is this machine (make local).
func (a *app) local() bool {
	u, err := url.Parse(a.endpoint)
	if err != nil || a.endpoint == "" {
		return false
	}
	h := u.Hostname()
	return h == "127.0.0.1" || h == "localhost" || h == "::1"
}

// config loads the AWS configuration once.
func (a *app) config(ctx context.Context) (aws.Config, error) {
	if a.loaded {
		return a.cfg, nil
	}
	var opts []func(*config.LoadOptions) error
	region := a.region
	if region == "" && a.local() {
		region = "us-east-1"
	}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if a.local() {
		// The local emulator accepts any credentials.
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if a.endpoint != "" {
		cfg.BaseEndpoint = aws.String(a.endpoint)
	}
	if cfg.Region == "" {
		return aws.Config{}, usageErr("no AWS region: pass --region or set AWS_REGION")
	}
	cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	a.cfg, a.loaded = cfg, true
	return cfg, nil
}

// resolve fills the names not given by flags: from the stack's outputs,
// or the local connector's names when the endpoint is local.
func (a *app) resolve(ctx context.Context) error {
	if a.resolved {
		return nil
	}
	cfg, err := a.config(ctx)
	if err != nil {
		return err
	}
	n := &a.names
	// A local endpoint (make local) has the local names: WACLOUD_STACK,
	// exported for a deployed stack, does not apply to it; --stack given
	// with a local endpoint does (a stack in another emulator).
	useStack := a.stack != "" && (a.stackFlag || !a.local())
	switch {
	case useStack:
		out, err := cloudformation.NewFromConfig(cfg).DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(a.stack)})
		if err != nil {
			hint := ""
			if a.endpoint != "" {
				hint = fmt.Sprintf(" (the endpoint %s has no such stack: for make local leave --stack out and unset WACLOUD_STACK)", a.endpoint)
			}
			return fmt.Errorf("read stack %s%s: %w", a.stack, hint, err)
		}
		if len(out.Stacks) == 0 {
			return fmt.Errorf("stack %s not found", a.stack)
		}
		o := map[string]string{}
		for _, v := range out.Stacks[0].Outputs {
			o[aws.ToString(v.OutputKey)] = aws.ToString(v.OutputValue)
		}
		setDefault(&n.TenantsTable, o["TenantsTableName"])
		setDefault(&n.TemplatesTable, o["TemplatesTableName"])
		setDefault(&n.SuppressionsTable, o["SuppressionsTableName"])
		setDefault(&n.CampaignsTable, o["CampaignsTableName"])
		setDefault(&n.MessagesTable, o["MessagesTableName"])
		setDefault(&n.StateTable, o["StateTableName"])
		setDefault(&n.DataBucket, o["DataBucketName"])
		setDefault(&n.SecretPrefix, o["TenantSecretPrefix"])
		setDefault(&n.WebhookSecretPrefix, o["TenantWebhookSecretPrefix"])
		setDefault(&n.PlatformSecretID, o["PlatformSecretArn"])
		setDefault(&n.PlatformWebhookSecretID, o["PlatformWebhookSecretArn"])
		setDefault(&n.OutboundQueueURL, o["OutboundQueueUrl"])
		setDefault(&n.MetaAppSecretID, o["MetaAppSecretArn"])
		if n.Queues == nil {
			for _, q := range queueNames {
				if o[q+"DLQUrl"] != "" {
					n.Queues = append(n.Queues, QueuePair{Name: q, SourceURL: o[q+"QueueUrl"], DLQURL: o[q+"DLQUrl"]})
				}
			}
		}
	case a.local():
		setDefault(&n.TenantsTable, "TenantsTable")
		setDefault(&n.TemplatesTable, "TemplatesTable")
		setDefault(&n.SuppressionsTable, "SuppressionsTable")
		setDefault(&n.CampaignsTable, "CampaignsTable")
		setDefault(&n.MessagesTable, "MessagesTable")
		setDefault(&n.StateTable, "StateTable")
		setDefault(&n.DataBucket, "wacloud-local-databucket")
		localSecretNames(n)
		if n.Queues == nil {
			c := sqs.NewFromConfig(cfg)
			for _, q := range queueNames {
				suffix := ""
				if fifo[q] {
					suffix = ".fifo"
				}
				src, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(q + "Queue" + suffix)})
				if err != nil {
					return fmt.Errorf("find the %s queue at %s (is make local running?): %w", q, a.endpoint, err)
				}
				dlq, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(q + "DLQ" + suffix)})
				if err != nil {
					return fmt.Errorf("find the %s dead-letter queue at %s: %w", q, a.endpoint, err)
				}
				n.Queues = append(n.Queues, QueuePair{Name: q, SourceURL: aws.ToString(src.QueueUrl), DLQURL: aws.ToString(dlq.QueueUrl)})
				if q == "Outbound" {
					setDefault(&n.OutboundQueueURL, aws.ToString(src.QueueUrl))
				}
			}
		}
	}
	a.resolved = true
	return nil
}

// localSecretNames fills the secret names of make local, whose template
// parameter SecretPrefix is "wacloud".
func localSecretNames(n *Names) {
	setDefault(&n.SecretPrefix, "wacloud/tenants/")
	setDefault(&n.WebhookSecretPrefix, "wacloud/webhook/tenants/")
	setDefault(&n.PlatformSecretID, "wacloud/platform")
	setDefault(&n.PlatformWebhookSecretID, "wacloud/webhook/platform")
	setDefault(&n.MetaAppSecretID, "wacloud/meta-app")
}

func setDefault(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

// need checks that a name is known, with advice when it is not.
func (a *app) need(what, v, flagName string) error {
	if v != "" {
		return nil
	}
	return usageErr("%s unknown: pass --stack (the deployed stack, e.g. wacloud), --endpoint-url http://127.0.0.1:4566 for make local, or --%s", what, flagName)
}

func (a *app) registry(ctx context.Context) (*tenant.Registry, error) {
	if err := a.resolve(ctx); err != nil {
		return nil, err
	}
	if err := a.need("tenants table", a.names.TenantsTable, "tenants-table"); err != nil {
		return nil, err
	}
	return &tenant.Registry{API: a.dynamo(), Table: a.names.TenantsTable, TTL: time.Nanosecond}, nil
}

// dynamo returns a DynamoDB client; the local emulator's responses carry
// no CRC32, which the SDK would warn about on every call.
func (a *app) dynamo() *dynamodb.Client {
	return dynamodb.NewFromConfig(a.cfg, func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = a.local() })
}

func (a *app) secrets(ctx context.Context) (*secretsmanager.Client, error) {
	if _, err := a.config(ctx); err != nil {
		return nil, err
	}
	return secretsmanager.NewFromConfig(a.cfg), nil
}

// confirm asks on stdin unless yes; anything but y/yes declines.
func (a *app) confirm(yes bool, format string, args ...any) error {
	if yes {
		return nil
	}
	fmt.Fprintf(a.Stderr, format+" [y/N] ", args...)
	line, _ := a.reader().ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return errors.New("not confirmed; nothing changed (pass --yes to skip the question)")
}

func (a *app) reader() *bufio.Reader {
	if a.stdin == nil {
		a.stdin = bufio.NewReader(a.Stdin)
	}
	return a.stdin
}

// noArgs rejects positional arguments left after the flags.
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q (flags go before nothing else; see --help)", fs.Arg(0))
	}
	return nil
}
