package main

import (
	"context"
	"fmt"
	"strings"
)

// numberRemove takes a business number away from its tenant. Jobs still
// queued for it fail (tenant_mismatch, not retryable) instead of being
// sent; webhooks for it are parked as unknown_phone_number.
func numberRemove(ctx context.Context, a *app, args []string) error {
	fs := a.flags("--phone-number-id ID [--tenant ID] [--yes]")
	id := fs.String("phone-number-id", "", "business phone number id")
	owner := fs.String("tenant", "", "the tenant it must belong to (default: whichever it belongs to)")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *id == "" {
		return usageErr("--phone-number-id is required")
	}
	reg, err := a.registry(ctx)
	if err != nil {
		return err
	}
	n, err := reg.Number(ctx, *id)
	if err != nil {
		return err
	}
	if *owner != "" && n.TenantID != *owner {
		return fmt.Errorf("number %s belongs to tenant %s, not %s; nothing changed", *id, n.TenantID, *owner)
	}
	if err := a.confirm(*yes, "Remove number %s (%s) from tenant %s? Its queued jobs will fail and its webhooks will be parked.", n.PhoneNumberID, n.DisplayPhoneNumber, n.TenantID); err != nil {
		return err
	}
	if _, err := reg.RemoveNumber(ctx, n.TenantID, n.PhoneNumberID); err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "number %s removed from tenant %s (running functions notice within a minute: registry cache)\n", n.PhoneNumberID, n.TenantID)
	return nil
}

// numberMove gives business numbers to another registered tenant, with
// their WABA. Jobs the old tenant queued for them fail (tenant_mismatch)
// instead of being sent with either tenant's token.
func numberMove(ctx context.Context, a *app, args []string) error {
	fs := a.flags("--phone-number-id ID [--phone-number-id ID ...] --to TENANT [--yes]")
	var ids list
	fs.Var(&ids, "phone-number-id", "business phone number id (repeat for every number of the same WABA)")
	to := fs.String("to", "", "the tenant that receives the numbers (registered already, with credentials that can send from them)")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if len(ids) == 0 || *to == "" {
		return usageErr("--phone-number-id and --to are required")
	}
	reg, err := a.registry(ctx)
	if err != nil {
		return err
	}
	n, err := reg.Number(ctx, ids[0])
	if err != nil {
		return err
	}
	if _, err := reg.Tenant(ctx, *to); err != nil {
		return err
	}
	if err := a.confirm(*yes, "Move number(s) %s from tenant %s to tenant %s? Jobs %s queued for them will fail.", strings.Join(ids, ", "), n.TenantID, *to, n.TenantID); err != nil {
		return err
	}
	from, err := reg.MoveNumbers(ctx, *to, ids...)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "number(s) %s moved from tenant %s to tenant %s (running functions notice within a minute: registry cache)\n", strings.Join(ids, ","), from, *to)
	return nil
}
