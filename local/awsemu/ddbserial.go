package awsemu

import (
	"net/http"
	"strings"
	"sync"
)

// dynamoDBWrites are the DynamoDB operations that change data or tables.
var dynamoDBWrites = map[string]bool{
	"PutItem": true, "UpdateItem": true, "DeleteItem": true,
	"BatchWriteItem": true, "TransactWriteItems": true,
	"ExecuteStatement": true, "BatchExecuteStatement": true, "ExecuteTransaction": true,
	"CreateTable": true, "UpdateTable": true, "DeleteTable": true, "UpdateTimeToLive": true,
}

// serialDynamoDB makes moto's conditional writes atomic, as DynamoDB's
// are. moto 5.2.1 reads an item, evaluates a write's condition and applies
// the write with no lock, on one thread per request, so two concurrent
// writers whose conditions exclude each other can both pass (the
// throttle's slots, the job and dedup claims and the status advances all
// rest on exactly one passing). The front lets one write reach moto at a
// time, and no read while a write is in progress, so a transaction is
// never seen half applied; reads still run side by side.
func serialDynamoDB(next http.Handler) http.Handler {
	var mu sync.RWMutex
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Header.Get("X-Amz-Target")
		if !strings.HasPrefix(target, "DynamoDB_") {
			next.ServeHTTP(w, r)
			return
		}
		if dynamoDBWrites[target[strings.LastIndexByte(target, '.')+1:]] {
			mu.Lock()
			defer mu.Unlock()
		} else {
			mu.RLock()
			defer mu.RUnlock()
		}
		next.ServeHTTP(w, r)
	})
}
