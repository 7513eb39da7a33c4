package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/tucanlink/wacloud/shared/suppression"
	"github.com/tucanlink/wacloud/shared/tenant"
)

// suppressionStore returns the suppression lists.
func (a *app) suppressionStore(ctx context.Context) (*suppression.Store, error) {
	if err := a.resolve(ctx); err != nil {
		return nil, err
	}
	if err := a.need("suppressions table", a.names.SuppressionsTable, "suppressions-table"); err != nil {
		return nil, err
	}
	return &suppression.Store{API: a.dynamo(), Table: a.names.SuppressionsTable}, nil
}

// tenantFlags registers the common flags and --tenant, and --contact when
// withContact.
func tenantFlags(a *app, usage string, withContact bool) (fs *flag.FlagSet, tid, contact *string) {
	fs = a.flags(usage)
	tid = fs.String("tenant", "", "tenant id")
	if withContact {
		contact = fs.String("contact", "", "phone number (E.164, with or without +) or business-scoped user id")
	}
	return fs, tid, contact
}

func requireTenant(fs *flag.FlagSet, tid string) error {
	if err := noArgs(fs); err != nil {
		return err
	}
	if tid == "" {
		return usageErr("--tenant is required")
	}
	return nil
}

// suppressionsList prints a tenant's whole suppression list, page by page.
func suppressionsList(ctx context.Context, a *app, args []string) error {
	fs, tid, _ := tenantFlags(a, "--tenant ID [--json]", false)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := requireTenant(fs, *tid); err != nil {
		return err
	}
	store, err := a.suppressionStore(ctx)
	if err != nil {
		return err
	}
	all := []suppression.Entry{}
	for cursor := ""; ; {
		p, err := store.List(ctx, *tid, suppression.MaxPageSize, cursor)
		if err != nil {
			return err
		}
		all = append(all, p.Entries...)
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	if *asJSON {
		return printJSON(a.Stdout, all)
	}
	w := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CONTACT\tREASON\tAT\tKEYWORD\tPHONE_NUMBER_ID\tNOTE")
	for _, e := range all {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Contact, e.Reason, e.At.Format("2006-01-02T15:04:05Z07:00"), e.Keyword, e.PhoneNumberID, e.Note)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(a.Stderr, "%d contact(s) on tenant %s's suppression list\n", len(all), *tid)
	return nil
}

// suppressionsAdd puts a contact on the list (reason manual); a contact
// already there keeps its entry.
func suppressionsAdd(ctx context.Context, a *app, args []string) error {
	fs, tid, contact := tenantFlags(a, "--tenant ID --contact C [--note TEXT]", true)
	note := fs.String("note", "", fmt.Sprintf("why, for people (at most %d characters)", suppression.MaxNoteChars))
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := requireTenant(fs, *tid); err != nil {
		return err
	}
	if *contact == "" {
		return usageErr("--contact is required")
	}
	if _, err := suppression.Key(*contact); err != nil {
		return usageErr("--contact must be a phone number (8 to 15 digits, optional +) or a business-scoped user id")
	}
	store, err := a.suppressionStore(ctx)
	if err != nil {
		return err
	}
	e, added, err := store.Add(ctx, suppression.Entry{TenantID: *tid, Contact: *contact, Reason: suppression.ReasonManual, Note: *note})
	if err != nil {
		return err
	}
	if !added {
		fmt.Fprintf(a.Stdout, "%s was on tenant %s's suppression list already (%s, %s); its entry is kept\n", e.Contact, *tid, e.Reason, e.At.Format("2006-01-02T15:04:05Z07:00"))
		return nil
	}
	fmt.Fprintf(a.Stdout, "%s added to tenant %s's suppression list: templates and campaigns skip it\n", e.Contact, *tid)
	return nil
}

// suppressionsRemove takes a contact off the list.
func suppressionsRemove(ctx context.Context, a *app, args []string) error {
	fs, tid, contact := tenantFlags(a, "--tenant ID --contact C", true)
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := requireTenant(fs, *tid); err != nil {
		return err
	}
	k, err := suppression.Key(*contact)
	if err != nil {
		return usageErr("--contact must be a phone number (8 to 15 digits, optional +) or a business-scoped user id")
	}
	store, err := a.suppressionStore(ctx)
	if err != nil {
		return err
	}
	removed, err := store.Remove(ctx, *tid, k)
	if err != nil {
		return err
	}
	if !removed {
		return fmt.Errorf("%s is not on tenant %s's suppression list", k, *tid)
	}
	fmt.Fprintf(a.Stdout, "%s removed from tenant %s's suppression list: templates and campaigns reach it again\n", k, *tid)
	return nil
}

// optOutShow prints a tenant's opt-out settings, with the defaults they
// leave in place.
func optOutShow(ctx context.Context, a *app, args []string) error {
	fs, tid, _ := tenantFlags(a, "--tenant ID [--json]", false)
	asJSON := fs.Bool("json", false, "print JSON, as GET …/opt-out answers")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := requireTenant(fs, *tid); err != nil {
		return err
	}
	reg, err := a.registry(ctx)
	if err != nil {
		return err
	}
	o, err := reg.OptOutSettings(ctx, *tid)
	if err != nil {
		return err
	}
	printOptOut(a, o, *asJSON)
	return nil
}

func printOptOut(a *app, o *tenant.OptOut, asJSON bool) {
	if o == nil {
		o = &tenant.OptOut{}
	}
	if asJSON {
		v := map[string]any{"enabled": !o.Disabled, "keywords": nil, "reply": nil, "default_keywords": suppression.DefaultKeywords}
		if len(o.Keywords) > 0 {
			v["keywords"] = o.Keywords
		}
		if o.Reply != "" {
			v["reply"] = o.Reply
		}
		_ = printJSON(a.Stdout, v)
		return
	}
	fmt.Fprintf(a.Stdout, "enabled:  %v\n", !o.Disabled)
	if len(o.Keywords) > 0 {
		fmt.Fprintf(a.Stdout, "keywords: %s\n", strings.Join(o.Keywords, ", "))
	} else {
		fmt.Fprintf(a.Stdout, "keywords: (defaults) %s\n", strings.Join(suppression.DefaultKeywords, ", "))
	}
	if o.Reply != "" {
		fmt.Fprintf(a.Stdout, "reply:    %s\n", o.Reply)
	} else {
		fmt.Fprintln(a.Stdout, "reply:    (default, in the language of the keyword)")
	}
}

// optOutSet changes the settings the flags name and keeps the others.
func optOutSet(ctx context.Context, a *app, args []string) error {
	fs, tid, _ := tenantFlags(a, "--tenant ID [--enabled=true|false] [--keywords 'STOP,BAJA,…' | --default-keywords] [--reply TEXT | --default-reply]", false)
	enabled := fs.Bool("enabled", true, "act on stop keywords (false: ignore them; the list is kept through the API alone)")
	keywords := fs.String("keywords", "", "comma-separated stop keywords, replacing the defaults")
	fs.Bool("default-keywords", false, "back to the default keywords")
	reply := fs.String("reply", "", "the confirmation sent to a contact who opted out")
	fs.Bool("default-reply", false, "back to the default reply (in the language of the keyword)")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := requireTenant(fs, *tid); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if given["keywords"] && given["default-keywords"] {
		return usageErr("give --keywords or --default-keywords, not both")
	}
	if given["reply"] && given["default-reply"] {
		return usageErr("give --reply or --default-reply, not both")
	}
	if !given["enabled"] && !given["keywords"] && !given["default-keywords"] && !given["reply"] && !given["default-reply"] {
		return usageErr("nothing to change: give --enabled, --keywords, --default-keywords, --reply or --default-reply")
	}
	reg, err := a.registry(ctx)
	if err != nil {
		return err
	}
	cur, err := reg.OptOutSettings(ctx, *tid)
	if err != nil {
		return err
	}
	next := tenant.OptOut{}
	if cur != nil {
		next = *cur
	}
	if given["enabled"] {
		next.Disabled = !*enabled
	}
	switch {
	case given["default-keywords"]:
		next.Keywords = nil
	case given["keywords"]:
		next.Keywords = []string{}
		for _, k := range strings.Split(*keywords, ",") {
			if k = strings.TrimSpace(k); k != "" {
				next.Keywords = append(next.Keywords, k)
			}
		}
	}
	switch {
	case given["default-reply"]:
		next.Reply = ""
	case given["reply"]:
		if *reply == "" {
			return usageErr("--reply is empty: give a text, or --default-reply")
		}
		next.Reply = *reply
	}
	if problems := append(suppression.CheckKeywords(next.Keywords), suppression.CheckReply(next.Reply)...); len(problems) > 0 {
		return errors.New("invalid_opt_out: " + strings.Join(problems, "; "))
	}
	var stored *tenant.OptOut
	if next.Disabled || len(next.Keywords) > 0 || next.Reply != "" {
		stored = &next
	}
	if err := reg.SetOptOut(ctx, *tid, stored); err != nil {
		return err
	}
	printOptOut(a, stored, false)
	return nil
}
