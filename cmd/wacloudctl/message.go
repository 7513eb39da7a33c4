package main

import (
	"context"
	"fmt"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/tucanlink/wacloud/shared/delivery"
)

func messageShow(ctx context.Context, a *app, args []string) error {
	fs := a.flags("(--wamid WAMID | --tenant ID --job JOB_ID) [--json]")
	wamid := fs.String("wamid", "", "WhatsApp message id (wamid.…)")
	job := fs.String("job", "", "the core's job id (job ids are scoped by tenant: with --tenant)")
	tenantID := fs.String("tenant", "", "the tenant of --job")
	asJSON := fs.Bool("json", false, "print the whole record as JSON")
	if err := fs.Parse(args); err != nil {
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
	)
	if *wamid != "" {
		m, err = store.Get(ctx, *wamid)
	} else {
		m, err = store.ByJob(ctx, *tenantID, *job)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(a.Stdout, m)
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
