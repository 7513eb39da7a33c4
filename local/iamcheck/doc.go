// Package iamcheck holds template.yaml's IAM policies to what the functions
// actually do. A Recorder, given to the local connector, sees every AWS
// call each function makes through its own aws.Config and writes it down as
// IAM sees it: the action, the ARN the resource would have on AWS and the
// condition keys (dynamodb:LeadingKeys, s3:prefix). Policies reads each
// function's Policies from the template, with intrinsics resolved and SAM
// policy templates expanded, and Check evaluates the calls against them the
// way IAM does (wildcards in actions and resources, Deny first, condition
// operators with their set qualifiers). Check reports two kinds of
// findings: a call its function's statements do not allow, and a grant no
// call used (an action, a resource or a condition value), unless a Waiver
// says why it stays.
//
// It exists only to test; no function imports it.
package iamcheck
