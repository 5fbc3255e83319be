package api

import (
	"math"
	"testing"
)

func TestTwoProportionP(t *testing.T) {
	// 50/100 against 40/100: z = 1.421, two-sided p = 0.155.
	if p := twoProportionP(50, 100, 40, 100); math.Abs(p-0.1552) > 0.0005 {
		t.Fatalf("p = %.4f", p)
	}
	if p := twoProportionP(0, 10, 0, 10); p != 1 {
		t.Fatalf("no conversions anywhere: p = %v", p)
	}
}
