package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/shared/outbound"
	"github.com/tucanlink/wacloud/shared/queue"
)

func sendTest(ctx context.Context, a *app, args []string) error {
	fs := a.flags("--tenant ID --to +E164 [--text TEXT | --template NAME [--language CODE]] [--phone-number-id ID] [--job-id ID] [--yes]")
	tenantID := fs.String("tenant", "", "tenant id")
	to := fs.String("to", "", "recipient in E.164, e.g. +5511999990001 (a text needs the contact's 24-hour window open, or the job fails with window_closed: use --template for a new contact)")
	text := fs.String("text", "wacloud test message", "message text")
	template := fs.String("template", "", "send this approved template (without parameters) instead of a text: reaches a contact whose window is closed, e.g. hello_world")
	language := fs.String("language", "en_US", "the template's language, with --template")
	number := fs.String("phone-number-id", "", "sending number (default: the tenant's only number)")
	jobID := fs.String("job-id", "", "job id (default: test-<random>)")
	yes := fs.Bool("yes", false, "do not ask for confirmation (the message really goes out)")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *tenantID == "" || *to == "" {
		return usageErr("--tenant and --to are required")
	}
	if *jobID == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		*jobID = "test-" + hex.EncodeToString(b)
	}
	reg, err := a.registry(ctx)
	if err != nil {
		return err
	}
	if err := a.need("outbound queue", a.names.OutboundQueueURL, "outbound-queue-url"); err != nil {
		return err
	}
	t, err := reg.Tenant(ctx, *tenantID)
	if err != nil {
		return err
	}
	if *number == "" {
		if len(t.PhoneNumbers) != 1 {
			return usageErr("tenant %s has %d numbers: pass --phone-number-id", t.ID, len(t.PhoneNumbers))
		}
		*number = t.PhoneNumbers[0]
	}
	job := outbound.Job{JobID: *jobID, TenantID: t.ID, PhoneNumberID: *number, To: *to, Type: outbound.TypeText,
		ClientRef: "wacloudctl-send-test", Text: &outbound.Text{Body: *text}}
	what := fmt.Sprintf("%q", *text)
	if *template != "" {
		job.Type, job.Text = outbound.TypeTemplate, nil
		job.Template = &outbound.Template{Name: *template, Language: outbound.TemplateLanguage{Code: *language}}
		what = "template " + *template + " (" + *language + ")"
	}
	if err := outbound.Validate(job); err != nil {
		return usageErr("%v", err)
	}
	body, err := json.Marshal(job)
	if err != nil {
		return err
	}
	if err := a.confirm(*yes, "Send %s from %s (tenant %s) to %s?", what, *number, t.ID, *to); err != nil {
		return err
	}
	err = queue.Publisher{API: sqs.NewFromConfig(a.cfg)}.Publish(ctx, a.names.OutboundQueueURL,
		queue.Message{Body: string(body), GroupID: job.GroupID(), DedupID: job.JobID})
	if err != nil {
		return fmt.Errorf("enqueue job %s: %w", job.JobID, err)
	}
	fmt.Fprintf(a.Stdout, "enqueued job %s; follow it with: wacloudctl message show --tenant %s --job %s\n", job.JobID, job.TenantID, job.JobID)
	return nil
}
