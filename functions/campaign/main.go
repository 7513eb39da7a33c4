// Command campaign is the campaign runner Lambda function
// (CampaignFunction); all behaviour lives in package campaign under
// shared/.
package main

import (
	"github.com/tucanlink/wacloud/shared/campaign"
	"github.com/tucanlink/wacloud/shared/lambdamain"
)

func main() {
	lambdamain.Start("campaign", campaign.Setup, func(r *campaign.Runner) any { return r.Handle })
}
