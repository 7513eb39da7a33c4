package main

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
)

// keyUse is a DynamoDB partition key's reads or writes: its table and
// partition key value.
type keyUse struct {
	table, pk string
	write     bool
}

// units are the capacity units of requests on each partition key, as
// DynamoDB bills an item of at most 1 KB (writes) or 4 KB (reads): a
// write 1, a transactional write 2, a strongly consistent read 1, an
// eventually consistent one 0.5, a transactional read or condition check
// 2, a Query 1 (its pages' sizes are not seen here). DynamoDB serves at
// most 1,000 write and 3,000 read units a second on one partition.
type units map[keyUse]float64

type attrs map[string]map[string]json.RawMessage

// pkOf is the item's or key's "pk" (every table's partition key).
func pkOf(a attrs) string {
	var s string
	_ = json.Unmarshal(a["pk"]["S"], &s)
	return s
}

var keyCond = regexp.MustCompile(`(#?\w+)\s*=\s*(:\w+)`)

// add adds what one DynamoDB request (operation name, body)
// costs on each partition key it names.
func (u units) add(name string, body []byte) {
	var in struct {
		TableName      string
		Key, Item      attrs
		ConsistentRead bool
		RequestItems   map[string]json.RawMessage
		TransactItems  []map[string]struct {
			TableName string
			Key, Item attrs
		}
		KeyConditionExpression    string
		ExpressionAttributeNames  map[string]string
		ExpressionAttributeValues attrs
	}
	if json.Unmarshal(body, &in) != nil {
		return
	}
	read := func(c bool) float64 {
		if c {
			return 1
		}
		return 0.5
	}
	switch name {
	case "PutItem":
		u[keyUse{in.TableName, pkOf(in.Item), true}]++
	case "UpdateItem", "DeleteItem":
		u[keyUse{in.TableName, pkOf(in.Key), true}]++
	case "GetItem":
		u[keyUse{in.TableName, pkOf(in.Key), false}] += read(in.ConsistentRead)
	case "Query":
		if m := keyCond.FindStringSubmatch(in.KeyConditionExpression); m != nil {
			attr := m[1]
			if n, ok := in.ExpressionAttributeNames[attr]; ok {
				attr = n
			}
			if attr == "pk" {
				var s string
				_ = json.Unmarshal(in.ExpressionAttributeValues[m[2]]["S"], &s)
				u[keyUse{in.TableName, s, false}]++
			}
		}
	case "BatchGetItem":
		for table, raw := range in.RequestItems {
			var ka struct {
				Keys           []attrs
				ConsistentRead bool
			}
			_ = json.Unmarshal(raw, &ka)
			for _, k := range ka.Keys {
				u[keyUse{table, pkOf(k), false}] += read(ka.ConsistentRead)
			}
		}
	case "BatchWriteItem":
		for table, raw := range in.RequestItems {
			var reqs []struct {
				PutRequest    *struct{ Item attrs }
				DeleteRequest *struct{ Key attrs }
			}
			_ = json.Unmarshal(raw, &reqs)
			for _, r := range reqs {
				switch {
				case r.PutRequest != nil:
					u[keyUse{table, pkOf(r.PutRequest.Item), true}]++
				case r.DeleteRequest != nil:
					u[keyUse{table, pkOf(r.DeleteRequest.Key), true}]++
				}
			}
		}
	case "TransactWriteItems", "TransactGetItems":
		for _, ti := range in.TransactItems {
			for kind, it := range ti {
				k := it.Key
				if kind == "Put" {
					k = it.Item
				}
				write := kind != "ConditionCheck" && kind != "Get"
				u[keyUse{it.TableName, pkOf(k), write}] += 2
			}
		}
	}
}

func (u units) copy() units {
	out := make(units, len(u))
	for k, v := range u {
		out[k] = v
	}
	return out
}

// minus is u less before, without the keys that did not change.
func (u units) minus(before units) units {
	out := units{}
	for k, v := range u {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// hottest returns the keys with the most units (writes or reads), most
// first, at most n.
func (u units) hottest(write bool, n int) []keyUse {
	var keys []keyUse
	for k := range u {
		if k.write == write {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if u[keys[i]] != u[keys[j]] {
			return u[keys[i]] > u[keys[j]]
		}
		return keys[i].pk < keys[j].pk
	})
	return keys[:min(n, len(keys))]
}

// hotKeys prints the partition keys with the most write and read units
// per unit of work, and what they would take a second at 1,000 units of
// work a second (a number's highest throughput) against a partition's
// limit, if they grew with the work. Not every key does: a number's
// schedule (rate#num#…) takes a write a send at this benchmark's rate,
// and leases blocks of up to 10 slots when busy (0.11 a send at 1,000 a
// second, make bench-sender).
func hotKeys(w io.Writer, u units, work int) {
	if work == 0 {
		return
	}
	for _, kind := range []struct {
		write bool
		what  string
		limit int
	}{{true, "write", 1000}, {false, "read", 3000}} {
		fmt.Fprintf(w, "  hottest partition keys, %s units per unit of work (and a second at 1,000 a second, if they grow with the work; a partition serves %d)\n", kind.what, kind.limit)
		for _, k := range u.hottest(kind.write, 5) {
			per := u[k] / float64(work)
			fmt.Fprintf(w, "    %-10.3f %7.0f/s  %s %s\n", per, per*1000, shortTable(k.table), k.pk)
		}
	}
}

// shortTable is a physical table name without its stack's prefix and
// suffix (wacloud-local-StateTable-ABC → StateTable).
func shortTable(name string) string {
	for _, part := range strings.Split(name, "-") {
		if strings.HasSuffix(part, "Table") {
			return part
		}
	}
	return name
}
