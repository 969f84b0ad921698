package prob

import (
	"math"
	"testing"
)

func TestLogBinomTail(t *testing.T) {
	for _, c := range []struct {
		n, k int
		p    float64
		want float64 // P(X ≥ k)
	}{
		{4, 1, 0.1, 1 - math.Pow(0.9, 4)},
		{3, 2, 0.5, 0.5},
		{10, 10, 0.5, math.Pow(0.5, 10)},
		{10, 0, 0.3, 1},
		{5, 6, 0.5, 0},
	} {
		if got := math.Exp(LogBinomTail(c.n, c.k, c.p)); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Bin(%d, %v) ≥ %d: got %v, want %v", c.n, c.p, c.k, got, c.want)
		}
		if got := math.Exp(LogBinomTailLog(c.n, c.k, math.Log(c.p))); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Bin(%d, %v) ≥ %d from log p: got %v, want %v", c.n, c.p, c.k, got, c.want)
		}
	}
	// A tail far below the smallest float64 still has a finite log:
	// P(X ≥ 2000) for Bin(2000, 1e-300) = 1e-600000.
	if got, want := LogBinomTailLog(2000, 2000, math.Log(1e-300)), 2000*math.Log(1e-300); math.Abs(got-want) > 1e-6*math.Abs(want) {
		t.Errorf("far tail: got %v, want %v", got, want)
	}
}

func TestLogPoissonTail(t *testing.T) {
	// P(X ≥ 1) for Poisson(2) = 1 − e^−2; P(X ≥ 2) = 1 − 3e^−2.
	if got, want := math.Exp(LogPoissonTail(1, 2)), 1-math.Exp(-2); math.Abs(got-want) > 1e-12 {
		t.Errorf("got %v, want %v", got, want)
	}
	if got, want := math.Exp(LogPoissonTail(2, 2)), 1-3*math.Exp(-2); math.Abs(got-want) > 1e-12 {
		t.Errorf("got %v, want %v", got, want)
	}
	if LogPoissonTail(0, 5) != 0 {
		t.Error("P(X ≥ 0) is 1")
	}
}

func TestLogAdd(t *testing.T) {
	if got := LogAdd(math.Log(2), math.Log(3)); math.Abs(got-math.Log(5)) > 1e-15 {
		t.Errorf("got %v", got)
	}
	if got := LogAdd(math.Inf(-1), 1); got != 1 {
		t.Errorf("got %v", got)
	}
	if got := LogAdd(1, math.Inf(-1)); got != 1 {
		t.Errorf("got %v", got)
	}
}
