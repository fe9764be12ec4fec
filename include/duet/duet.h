#pragma once
// The umbrella header: everything a duet user needs.
#include "duet/attrs.h"
#include "duet/config.h"
#include "duet/dtype.h"
#include "duet/error.h"
#include "duet/linalg.h"
#include "duet/nn.h"
#include "duet/ops.h"
#include "duet/random.h"
#include "duet/shape.h"
#include "duet/tape.h"
#include "duet/tensor.h"
#include "duet/variable.h"
