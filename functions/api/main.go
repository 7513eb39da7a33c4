// Command api is the management API Lambda function (ApiFunction); all
// behaviour lives in package manage under shared/.
package main

import (
	"github.com/tucanlink/wacloud/shared/lambdamain"
	"github.com/tucanlink/wacloud/shared/manage"
)

func main() {
	lambdamain.Start("api", manage.Setup, func(h *manage.Handler) any { return h.Handle })
}
