// Command templates is the scheduled Templates Lambda function: the
// template catalog's drift repair (package catalog) and the tenants'
// token check (package tokenhealth), both under shared/.
package main

import (
	"github.com/tucanlink/wacloud/shared/lambdamain"
	"github.com/tucanlink/wacloud/shared/tokenhealth"
)

func main() {
	lambdamain.Start("templates", tokenhealth.Setup, func(h *tokenhealth.Scheduled) any { return h.Handle })
}
