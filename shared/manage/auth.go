package manage

import (
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tucanlink/wacloud/shared/tenant"
)

// ScopeClaim is the claim that lists a token's tenants, and TenantScope
// the prefix of each value: scope "tenant:acme tenant:demo" lets the token
// act for acme and demo. A scope value may carry a resource server prefix
// ending in "/" (Amazon Cognito names custom scopes
// "{resource-server}/{scope}"), so "wacloud/tenant:acme" grants acme too.
const (
	ScopeClaim  = "scope"
	TenantScope = "tenant:"
)

// Claims are the token claims API Gateway's JWT authorizer passes with the
// request, every value as a string.
func Claims(req events.APIGatewayV2HTTPRequest) map[string]string {
	if req.RequestContext.Authorizer == nil || req.RequestContext.Authorizer.JWT == nil {
		return nil
	}
	return req.RequestContext.Authorizer.JWT.Claims
}

// TenantsOf lists the tenants the claims grant, in scope order; a value
// that names no valid tenant id grants nothing.
func TenantsOf(claims map[string]string) []string {
	var out []string
	for _, s := range strings.Fields(claims[ScopeClaim]) {
		if i := strings.LastIndexByte(s, '/'); i >= 0 {
			s = s[i+1:]
		}
		if id, ok := strings.CutPrefix(s, TenantScope); ok && tenant.ValidID(id) {
			out = append(out, id)
		}
	}
	return out
}

// mayActFor reports whether the claims grant tenantID.
func mayActFor(claims map[string]string, tenantID string) bool {
	for _, id := range TenantsOf(claims) {
		if id == tenantID {
			return true
		}
	}
	return false
}
