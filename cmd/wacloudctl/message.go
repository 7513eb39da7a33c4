package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/tucanlink/wacloud/shared/delivery"
	"github.com/tucanlink/wacloud/shared/sender"
)

func messageShow(ctx context.Context, a *app, args []string) error {
	fs := a.flags("(--wamid WAMID | --tenant ID --job JOB_ID) [--json]")
	wamid := fs.String("wamid", "", "WhatsApp message id (wamid.…)")
	job := fs.String("job", "", "the core's job id (job ids are scoped by tenant: with --tenant)")
	tenantID := fs.String("tenant", "", "the tenant of --job")
	asJSON := fs.Bool("json", false, "print the whole record as JSON")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if (*wamid == "") == (*job == "") {
		return usageErr("give exactly one of --wamid and --job")
	}
	if (*job != "") != (*tenantID != "") {
		return usageErr("--job needs --tenant (job ids are scoped by tenant), and --tenant goes only with --job")
	}
	if err := a.resolve(ctx); err != nil {
		return err
	}
	if err := a.need("messages table", a.names.MessagesTable, "messages-table"); err != nil {
		return err
	}
	store := &delivery.Store{API: a.dynamo(), Table: a.names.MessagesTable}
	var (
		m   delivery.Message
		err error
		rec *sender.JobRecord
	)
	if *wamid != "" {
		m, err = store.Get(ctx, *wamid)
	} else {
		// The job's record tells what became of it, also when Meta never
		// accepted it (no message record).
		if err := a.need("state table", a.names.StateTable, "state-table"); err != nil {
			return err
		}
		jobs := &sender.JobStore{API: a.dynamo(), Table: a.names.StateTable}
		if rec, err = jobs.Get(ctx, sender.JobRef{TenantID: *tenantID, JobID: *job}); err != nil {
			return err
		}
		m, err = store.ByJob(ctx, *tenantID, *job)
		if errors.Is(err, delivery.ErrNotFound) && rec != nil {
			if *asJSON {
				return printJSON(a.Stdout, map[string]any{"job": jobView(rec)})
			}
			printJob(a.Stdout, rec)
			return nil
		}
		if errors.Is(err, delivery.ErrNotFound) {
			return fmt.Errorf("tenant %s has no job %s: never enqueued, not yet taken by the sender, or its record expired (%d days)", *tenantID, *job, int(sender.DefaultRetention.Hours()/24))
		}
	}
	if err != nil {
		return err
	}
	if *asJSON {
		if rec != nil {
			return printJSON(a.Stdout, map[string]any{"job": jobView(rec), "message": m})
		}
		return printJSON(a.Stdout, m)
	}
	if rec != nil {
		printJob(a.Stdout, rec)
		fmt.Fprintln(a.Stdout)
	}
	w := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "wamid\t%s\n", m.WAMID)
	fmt.Fprintf(w, "tenant\t%s\n", m.TenantID)
	fmt.Fprintf(w, "number\t%s\n", m.PhoneNumberID)
	fmt.Fprintf(w, "job\t%s\n", m.JobID)
	if m.ClientRef != "" {
		fmt.Fprintf(w, "client ref\t%s\n", m.ClientRef)
	}
	fmt.Fprintf(w, "to\t%s\n", m.To)
	fmt.Fprintf(w, "type\t%s\n", m.Type)
	if !m.AcceptedAt.IsZero() {
		fmt.Fprintf(w, "accepted\t%s\n", m.AcceptedAt.UTC().Format(time.RFC3339))
	}
	if m.External {
		fmt.Fprintf(w, "external\tyes (statuses for a message this system did not send)\n")
	}
	fmt.Fprintf(w, "status\t%s\n", m.Status)
	w.Flush()

	type step struct {
		state string
		at    time.Time
	}
	var steps []step
	for s, at := range m.StatusAt {
		steps = append(steps, step{s, at})
	}
	sort.Slice(steps, func(i, j int) bool { return steps[i].at.Before(steps[j].at) })
	if len(steps) > 0 {
		fmt.Fprintln(a.Stdout, "\nhistory:")
		w = tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
		for _, s := range steps {
			note := ""
			if prev, ok := m.Transitions[s.state]; ok {
				note = "became current"
				if prev != "" && prev != "none" {
					note += " after " + prev
				}
			} else {
				note = "arrived late; not current"
			}
			if at, ok := m.Notified[s.state]; ok {
				note += ", core notified " + at.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(w, "  %s\t%s\t%s\n", s.at.UTC().Format(time.RFC3339), s.state, note)
		}
		w.Flush()
	}
	for _, e := range m.Errors {
		fmt.Fprintf(a.Stdout, "error: %d %s: %s %s\n", e.Code, e.Title, e.Message, e.Details)
	}
	return nil
}

// jobRecordView is a job record as message show prints it (no claim or lease
// internals).
type jobRecordView struct {
	JobID         string `json:"job_id"`
	TenantID      string `json:"tenant_id"`
	PhoneNumberID string `json:"phone_number_id"`
	Type          string `json:"type"`
	ClientRef     string `json:"client_ref,omitempty"`
	State         string `json:"state"`
	WAMID         string `json:"wamid,omitempty"`
	Reason        string `json:"reason,omitempty"`
	Code          int    `json:"code,omitempty"`
	Title         string `json:"title,omitempty"`
	Details       string `json:"details,omitempty"`
	Retryable     bool   `json:"retryable,omitempty"`
	Attempts      int    `json:"attempts,omitempty"`
	FinishedAt    string `json:"finished_at,omitempty"`
}

func jobView(r *sender.JobRecord) jobRecordView {
	v := jobRecordView{JobID: r.JobID, TenantID: r.TenantID, PhoneNumberID: r.PhoneNumberID, Type: r.Type, ClientRef: r.ClientRef,
		State: r.State, WAMID: r.WAMID, Reason: r.Reason, Code: r.Code, Title: r.Title, Details: r.Details, Retryable: r.Retryable, Attempts: r.Attempts}
	if r.FinishedAt != 0 {
		v.FinishedAt = time.UnixMilli(r.FinishedAt).UTC().Format(time.RFC3339)
	}
	return v
}

// printJob prints what became of a job: its state and, when it failed,
// why (the reason the core heard in outbound.failed). The recipient is
// left out: the message record shows it.
func printJob(out io.Writer, r *sender.JobRecord) {
	v := jobView(r)
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "job\t%s\n", v.JobID)
	fmt.Fprintf(w, "tenant\t%s\n", v.TenantID)
	fmt.Fprintf(w, "number\t%s\n", v.PhoneNumberID)
	fmt.Fprintf(w, "type\t%s\n", v.Type)
	if v.ClientRef != "" {
		fmt.Fprintf(w, "client ref\t%s\n", v.ClientRef)
	}
	fmt.Fprintf(w, "job state\t%s\n", v.State)
	if v.Reason != "" {
		retry := "no: resubmit under a new job id once the cause is fixed"
		if v.Retryable {
			retry = "yes: the core may resubmit it"
		}
		fmt.Fprintf(w, "reason\t%s\n", v.Reason)
		if v.Code != 0 || v.Title != "" {
			fmt.Fprintf(w, "meta error\t%d %s\n", v.Code, v.Title)
		}
		if v.Details != "" {
			fmt.Fprintf(w, "details\t%s\n", v.Details)
		}
		fmt.Fprintf(w, "retryable\t%s\n", retry)
	}
	if v.Attempts > 0 {
		fmt.Fprintf(w, "attempts\t%d\n", v.Attempts)
	}
	if v.FinishedAt != "" {
		fmt.Fprintf(w, "finished\t%s\n", v.FinishedAt)
	}
	w.Flush()
}
