package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/graph"
	"github.com/tucanlink/wacloud/shared/onboard"
	"github.com/tucanlink/wacloud/shared/queue"
)

// onboardCmd runs an Embedded Signup onboarding with the same code as
// POST /v1/onboarding (shared/onboard): the same state, so the API and
// this command resume each other's onboardings.
func onboardCmd(ctx context.Context, a *app, args []string) error {
	fs := a.flags("--code CODE --waba-id ID --phone-number-id ID --tenant ID [--name NAME] [--graph-url URL] [--json]")
	var req onboard.Request
	fs.StringVar(&req.Code, "code", "", "the code Embedded Signup gave the browser (single-use; not needed once exchanged)")
	fs.StringVar(&req.WABAID, "waba-id", "", "the WABA id from Embedded Signup's session info")
	fs.StringVar(&req.PhoneNumberID, "phone-number-id", "", "the phone number id from Embedded Signup's session info")
	fs.StringVar(&req.TenantID, "tenant", "", "tenant id (letters, digits, - _ .)")
	fs.StringVar(&req.TenantName, "name", "", "company name")
	base := a.Getenv("GRAPH_API_BASE_URL")
	if base == "" {
		base = graph.DefaultBaseURL
	}
	graphURL := fs.String("graph-url", base, "Graph API base URL (env GRAPH_API_BASE_URL)")
	graphVersion := fs.String("graph-version", graph.DefaultVersion, "Graph API version")
	asJSON := fs.Bool("json", false, "print the onboarding's state as JSON")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if req.TenantID == "" || req.WABAID == "" || req.PhoneNumberID == "" {
		return usageErr("--tenant, --waba-id and --phone-number-id are required (and --code until it has been exchanged)")
	}
	if err := onboard.Check(req); err != nil {
		return usageErr("%s", publicText(err))
	}
	reg, err := a.registry(ctx)
	if err != nil {
		return err
	}
	n := a.names
	for _, need := range []struct{ what, v, flag string }{
		{"state table", n.StateTable, "state-table"}, {"templates table", n.TemplatesTable, "templates-table"},
		{"tenant secret prefix", n.SecretPrefix, "secret-prefix"}, {"tenant webhook secret prefix", n.WebhookSecretPrefix, "webhook-secret-prefix"},
		{"Meta app secret", n.MetaAppSecretID, "meta-app-secret"},
	} {
		if err := a.need(need.what, need.v, need.flag); err != nil {
			return err
		}
	}
	eventsQueue := ""
	for _, q := range n.Queues {
		if q.Name == "CoreEvents" {
			eventsQueue = q.SourceURL
		}
	}
	if eventsQueue == "" {
		return usageErr("the core events queue is unknown: pass --stack or --endpoint-url http://127.0.0.1:4566 for make local")
	}
	sm, err := a.secrets(ctx)
	if err != nil {
		return err
	}
	meta := &graph.Client{BaseURL: *graphURL, Version: *graphVersion}
	o := &onboard.Onboarder{
		Meta: meta, Secrets: sm, MetaAppSecret: n.MetaAppSecretID,
		SecretPrefix: n.SecretPrefix, WebhookSecretPrefix: n.WebhookSecretPrefix,
		Registry: reg, Catalog: &catalog.Syncer{Meta: meta, Templates: &catalog.Store{API: a.dynamo(), Table: n.TemplatesTable}},
		States: &onboard.Store{API: a.dynamo(), Table: n.StateTable},
		Events: queue.Publisher{API: sqs.NewFromConfig(a.cfg)}, EventsQueue: eventsQueue,
		Log: slog.New(slog.DiscardHandler),
	}
	st, runErr := o.Run(ctx, req)
	if st.ID == "" {
		return runErr
	}
	if *asJSON {
		enc := json.NewEncoder(a.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(a.Stdout, "onboarding %s of tenant %s (WABA %s, number %s %s): %s\n", st.ID, st.TenantID, st.WABAID, st.PhoneNumberID, st.DisplayPhoneNumber, st.Status)
		fmt.Fprintf(a.Stdout, "steps done: %s\n", strings.Join(st.Done, ", "))
	}
	var se *onboard.StepError
	if errors.As(runErr, &se) {
		f := se.Failure
		meta := ""
		if f.Code != 0 {
			meta = fmt.Sprintf(" (Meta error %d, subcode %d)", f.Code, f.Subcode)
		}
		return fmt.Errorf("step %s failed: %s%s: %s; run the same command again to continue from there", f.Step, f.Reason, meta, f.Message)
	}
	return runErr
}

// publicText is an error's text without its fault class prefix.
func publicText(err error) string {
	var inner interface{ Unwrap() error }
	if errors.As(err, &inner) && inner.Unwrap() != nil {
		return inner.Unwrap().Error()
	}
	return err.Error()
}
