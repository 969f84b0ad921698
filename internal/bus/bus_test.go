package bus

import (
	"context"
	"strings"
	"testing"

	"github.com/osprey-aiops/osprey"
)

// encoded is a Message that crossed a process boundary: only its JSON.
type encoded []byte

func (e encoded) Value() (any, bool)    { return nil, false }
func (e encoded) Data() ([]byte, error) { return e, nil }

// oneTopic is a Bus that delivers one raw message to the handler
// Subscribe registers, so decode runs as a subscriber sees it.
type oneTopic struct {
	osprey.Component
	h RawHandler
}

func (b *oneTopic) PublishRaw(context.Context, string, any) error { return nil }
func (b *oneTopic) SubscribeRaw(_, _ string, h RawHandler) error {
	b.h = h
	return nil
}

func TestDecodeRejectsNullMember(t *testing.T) {
	b := &oneTopic{}
	var got []osprey.Incident
	if err := Subscribe(b, Incidents, "g", func(_ context.Context, batch []osprey.Incident) error {
		got = batch
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err := b.h(ctx, encoded(`[{"id":"inc-1","members":[{"kind":"event","name":"a"},null]}]`))
	if err == nil || !strings.Contains(err.Error(), `incident "inc-1": a member is null`) {
		t.Fatalf("err = %v, want the null member named", err)
	}
	if !osprey.IsPermanent(err) {
		t.Errorf("err = %v, want a permanent error (redelivery cannot fix it)", err)
	}
	if got != nil {
		t.Errorf("handler got %v, want no call", got)
	}
	if err := b.h(ctx, encoded(`[{"id":"inc-2","members":[{"kind":"event","name":"a"}]}]`)); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0].Members) != 1 || got[0].Members[0].Name != "a" {
		t.Errorf("handler got %+v, want inc-2 with its member", got)
	}
}
