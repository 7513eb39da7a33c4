// Command templates is the scheduled Templates Lambda function (the
// template catalog's drift repair); all behaviour lives in package catalog
// under shared/.
package main

import (
	"github.com/tucanlink/wacloud/shared/catalog"
	"github.com/tucanlink/wacloud/shared/lambdamain"
)

func main() {
	lambdamain.Start("templates", catalog.Setup, func(h *catalog.Handler) any { return h.Handle })
}
