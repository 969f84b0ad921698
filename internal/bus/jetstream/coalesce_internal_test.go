package jetstream

import "testing"

func TestArrayElems(t *testing.T) {
	tests := []struct {
		data  string
		inner string
		elems int
		ok    bool
	}{
		{`[]`, ``, 0, true},
		{" [ \n ] \n", " \n ", 0, true},
		{`[1]`, `1`, 1, true},
		{`[{"a":[1,2],"b":"x,]}"},{"c":"\"],"}]`, `{"a":[1,2],"b":"x,]}"},{"c":"\"],"}`, 2, true},
		{` [ "a\\" , "b" ] `, ` "a\\" , "b" `, 2, true},
		{`{"a":1}`, ``, 0, false},
		{`[1]]`, ``, 0, false},
		{`[1`, ``, 0, false},
		{`["a]`, ``, 0, false},
		{`null`, ``, 0, false},
		{``, ``, 0, false},
	}
	for _, tc := range tests {
		inner, elems, ok := arrayElems([]byte(tc.data))
		if ok != tc.ok || ok && (string(inner) != tc.inner || elems != tc.elems) {
			t.Errorf("arrayElems(%q) = %q, %d, %v; want %q, %d, %v", tc.data, inner, elems, ok, tc.inner, tc.elems, tc.ok)
		}
	}
}

func TestJoined(t *testing.T) {
	var taken []fetched
	for _, data := range []string{"[]", ` [ {"id":"a"} , {"id":"b"} ]`, "[ ]", "[\n3\n]"} {
		inner, elems, ok := arrayElems([]byte(data))
		if !ok {
			t.Fatalf("arrayElems(%q) not ok", data)
		}
		taken = append(taken, fetched{inner: inner, elems: elems, ok: ok})
	}
	if got, want := string(joined(taken)), `[ {"id":"a"} , {"id":"b"} ,`+"\n3\n]"; got != want {
		t.Errorf("joined = %q, want %q", got, want)
	}
	if got := string(joined(taken[:1])); got != "[]" {
		t.Errorf("joined of an empty batch = %q, want []", got)
	}
}
