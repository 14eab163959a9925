package dbtest

import (
	"maps"
	"slices"
	"testing"
)

// Tables lists every table of the schema, so a test can reach each and a new table is
// not forgotten.
func TestTablesAreTheSchemas(t *testing.T) {
	db := New(t)
	defer db.Close()
	var got []string
	for _, tb := range Tables {
		got = append(got, string(tb))
	}
	slices.Sort(got)
	want := slices.Sorted(maps.Keys(Fingerprint(t, db.SQL())))
	if !slices.Equal(got, want) {
		t.Fatalf("dbtest.Tables %v, the schema has %v", got, want)
	}
}
