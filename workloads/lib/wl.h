/* Everything a workload includes: see each header for its contract. */
#ifndef WL_H
#define WL_H

#include "kapi.h"
#include "latency.h"
#include "pagemap.h"
#include "params.h"
#include "pattern.h"
#include "region.h"
#include "report.h"
#include "require.h"
#include "shape.h"
#include "sysfs.h"
#include "touch.h"

#endif
