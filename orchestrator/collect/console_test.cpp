#include "collect/console.h"

#include <gtest/gtest.h>

#include <string>

namespace foliolab::collect {
namespace {

// Console texts written in the style of real 6.12 reports on each arch (timestamps, register
// dumps, call traces, the agent's own lines interleaved).

const char* kBootPrelude = R"([    0.000000] Linux version 6.12.117 (foliolab@build) (gcc (Debian 12.2.0-14) 12.2.0) #1 SMP PREEMPT_DYNAMIC
[    0.000000] Command line: console=ttyS0 panic=-1 quiet
[    0.312345] Run /init as init process
foliolab-agent: job 3f2a9c, 1 step
)";

const char* kX86KernelBug = R"([   12.345678] ------------[ cut here ]------------
[   12.345901] kernel BUG at include/linux/swapops.h:511!
[   12.346120] Oops: invalid opcode: 0000 [#1] PREEMPT SMP NOPTI
[   12.346400] CPU: 1 UID: 0 PID: 87 Comm: swap-roundtrip Not tainted 6.12.117 #1
[   12.346700] Hardware name: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
[   12.347000] RIP: 0010:do_swap_page+0x9a1/0xb20
[   12.347200] Code: 0f 0b 48 8b 45 c0 48 8b 40 18 e9 5c fe ff ff 0f 0b 4c 89 e7 e8 <0f> 0b 48 c7 c6
[   12.347400] RSP: 0000:ffffc900001b7d48 EFLAGS: 00010246
[   12.347600] RAX: 0000000000000000 RBX: ffff888003a1c000 RCX: 0000000000000000
[   12.347700] RDX: 0000000000000000 RSI: 0000000000000001 RDI: ffffea00000e8000
[   12.348000] Call Trace:
[   12.348100]  <TASK>
[   12.348200]  ? die+0x36/0x90
[   12.348300]  ? do_trap+0xdd/0x100
[   12.348400]  ? do_swap_page+0x9a1/0xb20
[   12.348500]  __handle_mm_fault+0x6f1/0xd10
[   12.348600]  handle_mm_fault+0x17c/0x2f0
[   12.348700]  do_user_addr_fault+0x1f4/0x690
[   12.348800]  exc_page_fault+0x6c/0x150
[   12.348900]  asm_exc_page_fault+0x26/0x30
[   12.349000] RIP: 0033:0x401a2c
[   12.349100] Code: Unable to access opcode bytes at 0x401a02.
[   12.349200] RSP: 002b:00007ffd2b1c3d40 EFLAGS: 00010206
[   12.349300]  </TASK>
[   12.349400] Modules linked in:
[   12.349500] ---[ end trace 0000000000000000 ]---
[   12.349600] RIP: 0010:do_swap_page+0x9a1/0xb20
[   12.349700] Code: 0f 0b 48 8b 45 c0 48 8b 40 18 e9 5c fe ff ff 0f 0b 4c 89 e7 e8 <0f> 0b 48 c7 c6
[   12.349800] RSP: 0000:ffffc900001b7d48 EFLAGS: 00010246
[   12.349900] Kernel panic - not syncing: Fatal exception
[   12.350000] Kernel Offset: disabled
)";

const char* kX86Warning = R"([    8.100000] ------------[ cut here ]------------
[    8.100100] WARNING: CPU: 0 PID: 35 at mm/khugepaged.c:1234 collapse_huge_page+0x5e2/0x7a0
[    8.100200] Modules linked in:
[    8.100300] CPU: 0 UID: 0 PID: 35 Comm: khugepaged Not tainted 6.12.117 #1
[    8.100400] Hardware name: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
[    8.100500] RIP: 0010:collapse_huge_page+0x5e2/0x7a0
[    8.100600] Code: 48 89 df e8 b1 3c fe ff e9 2a fd ff ff <0f> 0b e9 6e fe ff ff 48 8b 7d b8
[    8.100700] RSP: 0018:ffffc90000137d30 EFLAGS: 00010202
[    8.100800] RAX: 0000000000000001 RBX: ffff888004d2b000 RCX: 0000000000000000
[    8.101000] Call Trace:
[    8.101100]  <TASK>
[    8.101200]  ? __warn+0x83/0x130
[    8.101250]  ? collapse_huge_page+0x5e2/0x7a0
[    8.101300]  hpage_collapse_scan_pmd+0x8b4/0xe50
[    8.101400]  khugepaged+0x4d1/0x9a0
[    8.101500]  kthread+0xcf/0x100
[    8.101600]  ret_from_fork+0x31/0x50
[    8.101700]  ret_from_fork_asm+0x1a/0x30
[    8.101800]  </TASK>
[    8.101900] ---[ end trace 0000000000000000 ]---
foliolab-agent: step collapse-full ok (2.31 s)
)";

const char* kX86NullDeref = R"([   20.100000] BUG: kernel NULL pointer dereference, address: 0000000000000008
[   20.100100] #PF: supervisor read access in kernel mode
[   20.100200] #PF: error_code(0x0000) - not-present page
[   20.100300] PGD 0 P4D 0
[   20.100400] Oops: Oops: 0000 [#1] PREEMPT SMP NOPTI
[   20.100500] CPU: 0 UID: 0 PID: 35 Comm: khugepaged Not tainted 6.12.117 #1
[   20.100600] Hardware name: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
[   20.100700] RIP: 0010:__collapse_huge_page_isolate.isra.0+0x1c/0x2c0
[   20.100800] Code: 41 57 41 56 41 55 41 54 55 53 48 83 ec 30 <48> 8b 47 08
[   20.100900] RSP: 0018:ffffc90000137c88 EFLAGS: 00010246
[   20.101000] Call Trace:
[   20.101100]  <TASK>
[   20.101200]  collapse_huge_page+0x2d4/0x7a0
[   20.101300]  hpage_collapse_scan_pmd+0x8b4/0xe50
[   20.101400]  </TASK>
[   20.101500] Modules linked in:
[   20.101600] CR2: 0000000000000008
[   20.101700] ---[ end trace 0000000000000000 ]---
)";

const char* kX86GpfKasan = R"([    5.000100] Oops: general protection fault, probably for non-canonical address 0xdffffc0000000001: 0000 [#1] PREEMPT SMP KASAN NOPTI
[    5.000200] KASAN: null-ptr-deref in range [0x0000000000000008-0x000000000000000f]
[    5.000300] CPU: 1 UID: 0 PID: 90 Comm: swap-stress Not tainted 6.12.117 #1
[    5.000400] RIP: 0010:folio_try_get+0x24/0x90
[    5.000500] Call Trace:
[    5.000600]  <TASK>
[    5.000700]  swap_cache_get_folio+0x7b/0x1a0
[    5.000800]  </TASK>
[    5.000900] ---[ end trace 0000000000000000 ]---
)";

const char* kX86SoftLockup = R"([   60.000000] watchdog: BUG: soft lockup - CPU#1 stuck for 26s! [swap-stress:91]
[   60.000100] Modules linked in:
[   60.000200] CPU: 1 UID: 0 PID: 91 Comm: swap-stress Not tainted 6.12.117 #1
[   60.000300] RIP: 0010:_raw_spin_lock+0x1f/0x30
[   60.000400] Code: 90 90 90 f3 0f 1e fa 0f 1f 44 00 00 31 c0 ba 01 00 00 00
[   60.000500] Call Trace:
[   60.000600]  <IRQ>
[   60.000700]  ? watchdog_timer_fn+0x1e6/0x270
[   60.000800]  </IRQ>
[   60.000900]  <TASK>
[   60.001000]  swap_cache_get_folio+0x7b/0x1a0
[   60.001100]  do_swap_page+0x1f2/0xb20
[   60.001200]  </TASK>
foliolab-agent: step swap-stress still running (40 s)
)";

const char* kX86BadPage = R"([   30.000000] BUG: Bad page state in process swap-roundtrip  pfn:0b2c4
[   30.000100] page: refcount:0 mapcount:1 mapping:0000000000000000 index:0x7f0000 pfn:0xb2c4
[   30.000200] flags: 0xfffffc0000000(node=0|zone=1|lastcpupid=0x1fffff)
[   30.000300] raw: 000fffffc0000000 dead000000000100 dead000000000122 0000000000000000
[   30.000400] page dumped because: nonzero mapcount
[   30.000500] Modules linked in:
[   30.000600] CPU: 0 UID: 0 PID: 88 Comm: swap-roundtrip Tainted: G    B              6.12.117 #1
[   30.000700] Call Trace:
[   30.000800]  <TASK>
[   30.000900]  dump_stack_lvl+0x5d/0x80
[   30.001000]  bad_page+0x70/0x110
[   30.001100]  free_unref_folios+0x3c1/0x5a0
[   30.001200]  </TASK>
[   30.001300] Disabling lock debugging due to kernel taint
[   30.001400] BUG: Bad rss-counter state mm:00000000b5f8c1e3 type:MM_ANONPAGES val:1 Comm:swap-roundtrip Pid:88
foliolab-agent: step swap-roundtrip failed: exit 3
)";

const char* kX86Oom = R"([   40.000000] swap-stress invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), order=0, oom_score_adj=0
[   40.000100] CPU: 0 UID: 0 PID: 90 Comm: swap-stress Not tainted 6.12.117 #1
[   40.000200] Call Trace:
[   40.000300]  <TASK>
[   40.000400]  dump_stack_lvl+0x5d/0x80
[   40.000500]  oom_kill_process+0xfb/0x1f0
[   40.000600]  out_of_memory+0x248/0x4e0
[   40.000700]  </TASK>
[   40.000800] Mem-Info:
[   40.000900] active_anon:1234 inactive_anon:480123 isolated_anon:0
[   40.001000] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/,task=swap-stress,pid=90,uid=0
[   40.001100] Out of memory: Killed process 90 (swap-stress) total-vm:2101452kB, anon-rss:1950012kB, file-rss:4kB, shmem-rss:0kB, UID:0 pgtables:3880kB oom_score_adj:0
[   41.000000] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/foliolab-stress,task_memcg=/foliolab-stress,task=swap-stress,pid=93,uid=0
[   41.000100] Memory cgroup out of memory: Killed process 93 (swap-stress) total-vm:301452kB, anon-rss:262144kB, file-rss:4kB, shmem-rss:0kB, UID:0 pgtables:600kB oom_score_adj:0
)";

const char* kArm64NullDeref = R"([    3.211031] Unable to handle kernel NULL pointer dereference at virtual address 0000000000000008
[    3.211309] Mem abort info:
[    3.211377]   ESR = 0x0000000096000004
[    3.211474]   EC = 0x25: DABT (current EL), IL = 32 bits
[    3.211602]   SET = 0, FnV = 0
[    3.211688]   EA = 0, S1PTW = 0
[    3.211770]   FSC = 0x04: level 0 translation fault
[    3.211877] Data abort info:
[    3.211950]   ISV = 0, ISS = 0x00000004, ISS2 = 0x00000000
[    3.212062]   CM = 0, WnR = 0, TnD = 0, TagAccess = 0
[    3.212290] user pgtable: 4k pages, 48-bit VAs, pgdp=0000000041b3e000
[    3.212411] [0000000000000008] pgd=0000000000000000, p4d=0000000000000000
[    3.212580] Internal error: Oops: 0000000096000004 [#1] PREEMPT SMP
[    3.212713] Modules linked in:
[    3.212820] CPU: 0 UID: 0 PID: 35 Comm: khugepaged Not tainted 6.12.117 #1
[    3.212964] Hardware name: linux,dummy-virt (DT)
[    3.213081] pstate: 60400005 (nZCv daif +PAN -UAO -TCO -DIT -SSBS BTYPE=--)
[    3.213227] pc : collapse_huge_page+0x1c4/0x6e0
[    3.213349] lr : hpage_collapse_scan_pmd+0x6a8/0x7b0
[    3.213468] sp : ffff80008006bc70
[    3.213555] x29: ffff80008006bc90 x28: 0000000000000000 x27: ffff0000c0a4e000
[    3.213650] x26: 0000000000000001 x25: ffff0000c0a4e000 x24: 0000fffff7e00000
[    3.213744] Call trace:
[    3.213810]  collapse_huge_page+0x1c4/0x6e0
[    3.213917]  hpage_collapse_scan_pmd+0x6a8/0x7b0
[    3.214030]  khugepaged+0x40c/0x8c0
[    3.214123]  kthread+0x118/0x124
[    3.214206]  ret_from_fork+0x10/0x20
[    3.214301] Code: f9400e61 b4000b41 f9400422 37000b62 (f9400440)
[    3.214450] ---[ end trace 0000000000000000 ]---
[    3.214600] Kernel panic - not syncing: Oops: Fatal exception
[    3.214700] SMP: stopping secondary CPUs
[    3.214800] Kernel Offset: disabled
[    3.214900] CPU features: 0x00,00000000,00200000,4200421b
[    3.215000] Memory Limit: none
[    3.215100] ---[ end Kernel panic - not syncing: Oops: Fatal exception ]---
)";

const char* kArm64KernelBug = R"([    4.100000] ------------[ cut here ]------------
[    4.100100] kernel BUG at mm/huge_memory.c:2848!
[    4.100200] Internal error: Oops - BUG: 00000000f2000800 [#1] PREEMPT SMP
[    4.100300] Modules linked in:
[    4.100400] CPU: 1 UID: 0 PID: 88 Comm: swap-roundtrip Not tainted 6.12.117 #1
[    4.100500] Hardware name: linux,dummy-virt (DT)
[    4.100600] pc : __split_huge_pmd_locked+0x7a0/0x8d0
[    4.100700] lr : __split_huge_pmd_locked+0x6c/0x8d0
[    4.100800] Call trace:
[    4.100900]  __split_huge_pmd_locked+0x7a0/0x8d0
[    4.101000]  split_huge_pmd_locked+0x4c/0x60
[    4.101100]  try_to_unmap_one+0x1a8/0x9a0
[    4.101200] Code: d65f03c0 f9400260 b5fff6e0 17ffffb7 (d4210000)
[    4.101300] ---[ end trace 0000000000000000 ]---
[    4.101400] Kernel panic - not syncing: Oops - BUG: Fatal exception
[    4.101500] SMP: stopping secondary CPUs
)";

const char* kArm64WarningPanicOnWarn = R"([    6.000000] ------------[ cut here ]------------
[    6.000100] WARNING: CPU: 0 PID: 1 at mm/memory.c:4321 do_swap_page+0x6bc/0xd70
[    6.000200] Modules linked in:
[    6.000300] CPU: 0 UID: 0 PID: 1 Comm: init Not tainted 6.12.117 #1
[    6.000400] pc : do_swap_page+0x6bc/0xd70
[    6.000500] Kernel panic - not syncing: kernel: panic_on_warn set ...
[    6.000600] CPU: 0 UID: 0 PID: 1 Comm: init Not tainted 6.12.117 #1
[    6.000700] Call trace:
[    6.000800]  panic+0x33c/0x39c
[    6.000900]  check_panic_on_warn+0x60/0x8c
)";

const char* kRiscvNullDeref = R"([    2.504581] Unable to handle kernel NULL pointer dereference at virtual address 0000000000000008
[    2.505012] Current khugepaged pgtable: 4K pagesize, 39-bit VAs, pgdp=0x0000000081a4e000
[    2.505400] [0000000000000008] pgd=0000000000000000
[    2.505800] Oops [#1]
[    2.506000] Modules linked in:
[    2.506200] CPU: 0 UID: 0 PID: 35 Comm: khugepaged Not tainted 6.12.117 #1
[    2.506400] Hardware name: riscv-virtio,qemu (DT)
[    2.506600] epc : collapse_huge_page+0x1a2/0x5e4
[    2.506800]  ra : hpage_collapse_scan_pmd+0x5b0/0x6c4
[    2.507000] epc : ffffffff801a3c5e ra : ffffffff801a4b2c sp : ff2000000068bd10
[    2.507200]  gp : ffffffff81a3f0d8 tp : ff600000019a8000 t0 : 0000000000000000
[    2.508000] status: 0000000200000120 badaddr: 0000000000000008 cause: 000000000000000d
[    2.508200] [<ffffffff801a3c5e>] collapse_huge_page+0x1a2/0x5e4
[    2.508400] [<ffffffff801a4b2c>] hpage_collapse_scan_pmd+0x5b0/0x6c4
[    2.508600] [<ffffffff801a5010>] khugepaged+0x3e4/0x6d0
[    2.508800] [<ffffffff80038e2a>] kthread+0xbc/0xd8
[    2.509000] [<ffffffff8000b1c6>] ret_from_fork+0xe/0x18
[    2.509200] Code: 8793 0807 b783 0087 c789 6398 (6418)
[    2.509400] ---[ end trace 0000000000000000 ]---
[    2.509600] Kernel panic - not syncing: Fatal exception
[    2.509800] SMP: stopping secondary CPUs
[    2.510000] ---[ end Kernel panic - not syncing: Fatal exception ]---
)";

const char* kRiscvKernelBug = R"([    3.000000] ------------[ cut here ]------------
[    3.000100] kernel BUG at mm/khugepaged.c:1801!
[    3.000200] Kernel BUG [#1]
[    3.000300] Modules linked in:
[    3.000400] CPU: 1 UID: 0 PID: 35 Comm: khugepaged Not tainted 6.12.117 #1
[    3.000500] epc : collapse_file+0x9e0/0xa40
[    3.000600] [<ffffffff801a9e20>] collapse_file+0x9e0/0xa40
[    3.000700] ---[ end trace 0000000000000000 ]---
[    3.000800] Kernel panic - not syncing: Fatal exception
)";

const char* kRiscvSysrqPanic = R"([    5.100000] sysrq: Trigger a crash
[    5.100200] Kernel panic - not syncing: sysrq triggered crash
[    5.100400] CPU: 0 UID: 0 PID: 1 Comm: init Not tainted 6.12.117 #1
[    5.100600] Hardware name: riscv-virtio,qemu (DT)
[    5.100800] Call Trace:
[    5.101000] [<ffffffff80006f3c>] dump_backtrace+0x1c/0x24
[    5.101200] [<ffffffff80a8f1d2>] show_stack+0x2c/0x38
[    5.101400] [<ffffffff80a9a4d6>] dump_stack_lvl+0x52/0x74
[    5.101600] [<ffffffff80a8f6b8>] panic+0x114/0x324
[    5.101800] [<ffffffff8050c1a2>] sysrq_handle_crash+0x16/0x18
[    5.102000] ---[ end Kernel panic - not syncing: sysrq triggered crash ]---
)";

ConsoleAnalyzer analyze(const std::string& text) {
  ConsoleAnalyzer console;
  console.feed(text);
  console.finish();
  return console;
}

TEST(Console, QuietBootHasNoReports) {
  auto c = analyze(kBootPrelude);
  EXPECT_TRUE(c.reports().empty());
  EXPECT_FALSE(c.saw_fatal());
  EXPECT_EQ(c.oom_kills(), 0);
}

// 7.3 with max_ptes_none 255: the kernel says once that mTHP collapse behaves as 0. Neither a
// report nor silence: a notice attached to the run. A workload printing the same words is not.
TEST(Console, MthpMaxPtesNoneWarningIsANoticeNotAReport) {
  ConsoleAnalyzer a;
  a.feed(kBootPrelude);
  a.feed("[    3.100000] mTHP collapse does not support max_ptes_none values other than 0 or 511, defaulting to 0.\n"
         "mTHP collapse does not support max_ptes_none (a workload's stderr)\n"
         "[    3.200000] mTHP collapse does not support max_ptes_none values other than 0 or 511, defaulting to 0.\n");
  a.finish();
  EXPECT_TRUE(a.reports().empty());
  ASSERT_EQ(a.notices().size(), 1u);
  EXPECT_EQ(a.notices()[0],
            "mTHP collapse does not support max_ptes_none values other than 0 or 511, defaulting to 0.");
}

TEST(Console, X86KernelBugMergesOopsAndPanicIntoOneFatalReport) {
  auto c = analyze(std::string(kBootPrelude) + kX86KernelBug);
  ASSERT_EQ(c.reports().size(), 1u);
  const CrashReport& r = c.reports()[0];
  EXPECT_EQ(r.title, "kernel BUG at include/linux/swapops.h:511");
  EXPECT_EQ(r.kind, "bug");
  EXPECT_TRUE(r.fatal);
  EXPECT_TRUE(c.saw_fatal());
  EXPECT_NE(r.excerpt.find("[ cut here ]"), std::string::npos);
  EXPECT_NE(r.excerpt.find("Oops: invalid opcode"), std::string::npos);
  EXPECT_NE(r.excerpt.find("__handle_mm_fault+0x6f1/0xd10"), std::string::npos);
  EXPECT_NE(r.excerpt.find("Kernel panic - not syncing: Fatal exception"), std::string::npos);
  EXPECT_EQ(r.excerpt.find("Linux version"), std::string::npos);
}

TEST(Console, X86WarningIsTitledWithFileLineAndFunctionAndIsNotFatal) {
  auto c = analyze(std::string(kBootPrelude) + kX86Warning);
  ASSERT_EQ(c.reports().size(), 1u);
  const CrashReport& r = c.reports()[0];
  EXPECT_EQ(r.title, "WARNING at mm/khugepaged.c:1234 collapse_huge_page");
  EXPECT_EQ(r.kind, "warning");
  EXPECT_FALSE(r.fatal);
  EXPECT_FALSE(c.saw_fatal());
  EXPECT_NE(r.excerpt.find("---[ end trace"), std::string::npos);
  EXPECT_EQ(r.excerpt.find("foliolab-agent"), std::string::npos);  // the agent's line is not the kernel's
}

TEST(Console, X86NullDerefIsTitledWithTheFaultingFunction) {
  auto c = analyze(kX86NullDeref);
  ASSERT_EQ(c.reports().size(), 1u);
  const CrashReport& r = c.reports()[0];
  EXPECT_EQ(r.title, "BUG: kernel NULL pointer dereference in __collapse_huge_page_isolate");
  EXPECT_EQ(r.kind, "oops");
  EXPECT_TRUE(r.fatal);
  EXPECT_NE(r.excerpt.find("CR2: 0000000000000008"), std::string::npos);
}

TEST(Console, X86GeneralProtectionFault) {
  auto c = analyze(kX86GpfKasan);
  ASSERT_EQ(c.reports().size(), 1u);
  EXPECT_EQ(c.reports()[0].title, "general protection fault in folio_try_get");
  EXPECT_TRUE(c.reports()[0].fatal);
}

TEST(Console, SoftLockupIsANonFatalLockupInTheSpinningFunction) {
  auto c = analyze(kX86SoftLockup);
  ASSERT_EQ(c.reports().size(), 1u);
  const CrashReport& r = c.reports()[0];
  EXPECT_EQ(r.title, "BUG: soft lockup in _raw_spin_lock");
  EXPECT_EQ(r.kind, "lockup");
  EXPECT_FALSE(r.fatal);
  EXPECT_NE(r.excerpt.find("do_swap_page+0x1f2/0xb20"), std::string::npos);
  EXPECT_EQ(r.excerpt.find("foliolab-agent"), std::string::npos);
}

TEST(Console, BadPageStateAndRssCounterAreTwoNonFatalReports) {
  auto c = analyze(kX86BadPage);
  ASSERT_EQ(c.reports().size(), 2u);
  EXPECT_EQ(c.reports()[0].title, "BUG: Bad page state");
  EXPECT_EQ(c.reports()[0].kind, "bad-page");
  EXPECT_FALSE(c.reports()[0].fatal);
  EXPECT_NE(c.reports()[0].excerpt.find("page dumped because: nonzero mapcount"), std::string::npos);
  EXPECT_EQ(c.reports()[0].excerpt.find("rss-counter"), std::string::npos);
  EXPECT_EQ(c.reports()[1].title, "BUG: Bad rss-counter state");
  EXPECT_EQ(c.reports()[1].excerpt.find("foliolab-agent"), std::string::npos);
  EXPECT_FALSE(c.saw_fatal());
}

TEST(Console, OomKillsAreCountedOncePerKillAndAreNotReports) {
  auto c = analyze(kX86Oom);
  EXPECT_TRUE(c.reports().empty());
  EXPECT_EQ(c.oom_kills(), 2);
  // Older kernels print only the "Killed process" line.
  auto old = analyze("[ 1.0] Out of memory: Killed process 90 (a) total-vm:1kB\n"
                     "[ 2.0] Out of memory: Killed process 91 (b) total-vm:1kB\n"
                     "[ 3.0] Out of memory: Killed process 92 (c) total-vm:1kB\n");
  EXPECT_EQ(old.oom_kills(), 3);
}

TEST(Console, Arm64NullDerefWithPanic) {
  auto c = analyze(std::string(kBootPrelude) + kArm64NullDeref);
  ASSERT_EQ(c.reports().size(), 1u);
  const CrashReport& r = c.reports()[0];
  EXPECT_EQ(r.title, "Unable to handle kernel NULL pointer dereference in collapse_huge_page");
  EXPECT_EQ(r.kind, "oops");
  EXPECT_TRUE(r.fatal);
  EXPECT_NE(r.excerpt.find("Internal error: Oops"), std::string::npos);
  EXPECT_NE(r.excerpt.find("end Kernel panic"), std::string::npos);
}

TEST(Console, Arm64KernelBug) {
  auto c = analyze(kArm64KernelBug);
  ASSERT_EQ(c.reports().size(), 1u);
  EXPECT_EQ(c.reports()[0].title, "kernel BUG at mm/huge_memory.c:2848");
  EXPECT_TRUE(c.reports()[0].fatal);
  EXPECT_NE(c.reports()[0].excerpt.find("Oops - BUG: Fatal exception"), std::string::npos);
}

TEST(Console, PanicOnWarnMakesTheWarningFatal) {
  auto c = analyze(kArm64WarningPanicOnWarn);
  ASSERT_EQ(c.reports().size(), 1u);
  EXPECT_EQ(c.reports()[0].title, "WARNING at mm/memory.c:4321 do_swap_page");
  EXPECT_TRUE(c.reports()[0].fatal);
  EXPECT_EQ(c.reports()[0].kind, "warning");
}

TEST(Console, RiscvNullDeref) {
  auto c = analyze(kRiscvNullDeref);
  ASSERT_EQ(c.reports().size(), 1u);
  const CrashReport& r = c.reports()[0];
  EXPECT_EQ(r.title, "Unable to handle kernel NULL pointer dereference in collapse_huge_page");
  EXPECT_TRUE(r.fatal);
  EXPECT_NE(r.excerpt.find("[<ffffffff801a5010>] khugepaged+0x3e4/0x6d0"), std::string::npos);
  EXPECT_NE(r.excerpt.find("Kernel panic - not syncing: Fatal exception"), std::string::npos);
}

TEST(Console, RiscvKernelBug) {
  auto c = analyze(kRiscvKernelBug);
  ASSERT_EQ(c.reports().size(), 1u);
  EXPECT_EQ(c.reports()[0].title, "kernel BUG at mm/khugepaged.c:1801");
  EXPECT_TRUE(c.reports()[0].fatal);
}

TEST(Console, SysrqPanicIsItsOwnReport) {
  auto c = analyze(std::string(kBootPrelude) + kRiscvSysrqPanic);
  ASSERT_EQ(c.reports().size(), 1u);
  const CrashReport& r = c.reports()[0];
  EXPECT_EQ(r.title, "Kernel panic - not syncing: sysrq triggered crash");
  EXPECT_EQ(r.kind, "panic");
  EXPECT_TRUE(r.fatal);
  EXPECT_NE(r.excerpt.find("sysrq_handle_crash"), std::string::npos);
}

TEST(Console, AnUnrelatedPanicAfterAWarningDoesNotJoinIt) {
  auto c = analyze(std::string(kX86Warning) + kRiscvSysrqPanic);
  ASSERT_EQ(c.reports().size(), 2u);
  EXPECT_FALSE(c.reports()[0].fatal);
  EXPECT_EQ(c.reports()[1].title, "Kernel panic - not syncing: sysrq triggered crash");
  EXPECT_TRUE(c.saw_fatal());
}

TEST(Console, SeveralReportsKeepConsoleOrder) {
  auto c = analyze(std::string(kX86Warning) + kX86SoftLockup + kX86BadPage + kX86NullDeref);
  ASSERT_EQ(c.reports().size(), 5u);
  EXPECT_EQ(c.reports()[0].kind, "warning");
  EXPECT_EQ(c.reports()[1].kind, "lockup");
  EXPECT_EQ(c.reports()[2].kind, "bad-page");
  EXPECT_EQ(c.reports()[3].kind, "bad-page");
  EXPECT_EQ(c.reports()[4].kind, "oops");
}

struct TitleCase {
  const char* console;
  const char* title;
  const char* kind;
  bool fatal;
};

class ConsoleTitles : public ::testing::TestWithParam<TitleCase> {};

TEST_P(ConsoleTitles, AreStableOneLiners) {
  auto c = analyze(GetParam().console);
  ASSERT_EQ(c.reports().size(), 1u) << GetParam().console;
  EXPECT_EQ(c.reports()[0].title, GetParam().title);
  EXPECT_EQ(c.reports()[0].kind, GetParam().kind);
  EXPECT_EQ(c.reports()[0].fatal, GetParam().fatal);
}

const TitleCase kTitleCases[] = {
    {"[ 9.0] ==================================================================\n"
     "[ 9.0] BUG: KASAN: slab-use-after-free in collapse_huge_page+0x1c4/0x6e0\n"
     "[ 9.0] Read of size 8 at addr ffff888004b1e7c8 by task khugepaged/35\n",
     "KASAN: slab-use-after-free in collapse_huge_page", "kasan", false},
    {"[ 9.0] BUG: KFENCE: use-after-free read in folio_copy.constprop.0+0x48/0x90\n",
     "KFENCE: use-after-free read in folio_copy", "kfence", false},
    {"[ 7.0] UBSAN: shift-out-of-bounds in mm/khugepaged.c:2301:17\n"
     "[ 7.0] shift exponent 64 is too large for 64-bit type 'long unsigned int'\n",
     "UBSAN: shift-out-of-bounds in mm/khugepaged.c:2301:17", "ubsan", false},
    {"[ 80.0] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:\n"
     "[ 80.0] rcu:  1-...!: (1 GPs behind) idle=2c4c/1/0x4000000000000000 softirq=1234/1235 fqs=0\n"
     "[ 80.0] NMI backtrace for cpu 1\n"
     "[ 80.0] RIP: 0010:collapse_huge_page+0x5e2/0x7a0\n",
     "INFO: rcu_preempt detected stalls in collapse_huge_page", "stall", false},
    {"[ 80.0] rcu: INFO: rcu_sched self-detected stall on CPU\n",
     "INFO: rcu_sched self-detected stall", "stall", false},
    {"[ 245.0] INFO: task khugepaged:35 blocked for more than 122 seconds.\n"
     "[ 245.0]       Not tainted 6.12.117 #1\n"
     "[ 245.0] \"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.\n",
     "INFO: task khugepaged blocked", "hung-task", false},
    {"[ 3.0] BUG: Bad page map in process swap-stress  pte:8000000012345867 pmd:0b2c4067\n",
     "BUG: Bad page map", "bad-page", false},
    {"[ 3.0] BUG: unable to handle page fault for address: ffffeb0000000008\n"
     "[ 3.0] Oops: Oops: 0000 [#1] PREEMPT SMP NOPTI\n"
     "[ 3.0] RIP: 0010:folio_mapcount+0x4/0x30\n",
     "BUG: unable to handle page fault in folio_mapcount", "oops", true},
    {"[ 3.0] BUG: scheduling while atomic: khugepaged/35/0x00000002\n",
     "BUG: scheduling while atomic", "bug", false},
    {"[ 3.0] BUG: sleeping function called from invalid context at mm/rmap.c:2112\n",
     "BUG: sleeping function called from invalid context at mm/rmap.c:2112", "bug", false},
    {"[ 3.0] BUG: workqueue lockup - pool cpus=0 node=0 flags=0x0 nice=0 stuck for 32s!\n",
     "BUG: workqueue lockup", "bug", false},
    {"[ 3.0] invalid opcode: 0000 [#1] SMP\n[ 3.0] RIP: 0010:zram_free_page+0x10/0x80\n",
     "invalid opcode in zram_free_page", "oops", true},
    {"[ 3.0] Unhandled fault: page domain fault (0x01b) at 0x00000000\n", "Unhandled fault: page domain fault",
     "oops", true},
    {"[ 3.0] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n",
     "Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)", "panic", true},
    {"[ 3.0] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100\n",
     "Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100", "panic", true},
    {"[ 3.0] NMI watchdog: Watchdog detected hard LOCKUP on cpu 1\n[ 3.0] RIP: 0010:native_queued_spin_lock_slowpath+0x6a/0x2d0\n",
     "Watchdog detected hard LOCKUP in native_queued_spin_lock_slowpath", "lockup", false},
    {"[ 3.0] WARNING: possible circular locking dependency detected\n",
     "WARNING: possible circular locking dependency detected", "warning", false},
    {"[ 3.0] ------------[ cut here ]------------\n[ 3.0] WARNING: CPU: 1 PID: 60 at 0xffffffff81234567 0xffffffff81234567\n"
     "[ 3.0] ---[ end trace 0000000000000000 ]---\n",
     "WARNING", "warning", false},
    {"[ 3.0] ------------[ cut here ]------------\n[ 3.0] refcount_t: underflow; use-after-free.\n"
     "[ 3.0] ---[ end trace 0000000000000000 ]---\n",
     "WARNING: refcount_t: underflow; use-after-free", "warning", false},
    // No printk timestamps (CONFIG_PRINTK_TIME off) and printk caller ids.
    {"kernel BUG at mm/swapfile.c:1590!\n", "kernel BUG at mm/swapfile.c:1590", "bug", true},
    {"[   12.000000][   T35] WARNING: CPU: 0 PID: 35 at mm/khugepaged.c:99 khugepaged+0x1/0x2\n",
     "WARNING at mm/khugepaged.c:99 khugepaged", "warning", false},
};

INSTANTIATE_TEST_SUITE_P(Reports, ConsoleTitles, ::testing::ValuesIn(kTitleCases));

TEST(Console, CrlfAnsiAndPartialLinesAcrossFeeds) {
  std::string text;
  for (char c : std::string(kX86Warning)) {
    if (c == '\n') text += "\r\n";
    else text += c;
  }
  text = "\x1b[0m\x1b" "c\x1b[2J" + text;  // SeaBIOS-style resets before the kernel starts
  text.insert(text.find("WARNING:"), "\x1b[1;31m");
  ConsoleAnalyzer c;
  for (std::size_t i = 0; i < text.size(); i += 7) c.feed(std::string_view(text).substr(i, 7));
  c.finish();
  ASSERT_EQ(c.reports().size(), 1u);
  EXPECT_EQ(c.reports()[0].title, "WARNING at mm/khugepaged.c:1234 collapse_huge_page");
  EXPECT_EQ(c.reports()[0].excerpt.find('\r'), std::string::npos);
  EXPECT_EQ(c.reports()[0].excerpt.find('\x1b'), std::string::npos);
}

TEST(Console, UserSpaceLinesOnATimestampedConsoleAreIgnored) {
  // A workload's stderr (no printk timestamp) says "WARNING:" and "BUG:": not kernel reports,
  // and not part of the kernel report that is open when they appear.
  auto c = analyze(std::string(kBootPrelude) +
                   "WARNING: MADV_COLLAPSE not supported, falling back\n"
                   "[   20.100000] BUG: kernel NULL pointer dereference, address: 0000000000000008\n"
                   "BUG: workload saw a zero page at offset 4096\n"
                   "[   20.100400] Oops: Oops: 0000 [#1] PREEMPT SMP NOPTI\n");
  ASSERT_EQ(c.reports().size(), 1u);
  EXPECT_EQ(c.reports()[0].excerpt.find("workload saw"), std::string::npos);
  // Without any timestamp on the console, the same text is taken at its word.
  auto untimed = analyze("WARNING: CPU: 0 PID: 1 at mm/x.c:1 f+0x1/0x2\n");
  EXPECT_EQ(untimed.reports().size(), 1u);
}

TEST(Console, ATrailingLineWithoutNewlineIsAnalysed) {
  auto c = analyze("[ 1.0] Kernel panic - not syncing: sysrq triggered crash");
  ASSERT_EQ(c.reports().size(), 1u);
  EXPECT_TRUE(c.saw_fatal());
}

TEST(Console, ExcerptIsBoundedForLongReports) {
  std::string text = "[ 9.0] BUG: KASAN: slab-out-of-bounds in zram_write_page+0x10/0x200\n";
  for (int i = 0; i < 1000; ++i) text += "[ 9.0] Memory state line " + std::to_string(i) + "\n";
  auto c = analyze(text);
  ASSERT_EQ(c.reports().size(), 1u);
  const std::string& excerpt = c.reports()[0].excerpt;
  EXPECT_LE(std::count(excerpt.begin(), excerpt.end(), '\n'), 61);
  EXPECT_NE(excerpt.find("more lines]"), std::string::npos);
}

TEST(Console, NonAsciiBytesAreEscapedInExcerpts) {
  auto c = analyze("[ 1.0] WARNING: CPU: 0 PID: 1 at mm/x.c:1 f+0x1/0x2\n[ 1.0] junk \xff\xfe\x01 here\n");
  ASSERT_EQ(c.reports().size(), 1u);
  EXPECT_NE(c.reports()[0].excerpt.find("junk \\xff\\xfe here"), std::string::npos) << c.reports()[0].excerpt;
}

TEST(Console, ReportCountIsCappedButTheFirstFatalReportIsKept) {
  ConsoleLimits limits;
  limits.max_reports = 4;
  ConsoleAnalyzer c(limits);
  for (int i = 0; i < 50; ++i) c.feed(kX86Warning);
  c.feed(kX86NullDeref);
  for (int i = 0; i < 50; ++i) c.feed(kX86Warning);
  c.finish();
  ASSERT_EQ(c.reports().size(), 4u);
  EXPECT_EQ(c.reports_omitted(), 97);
  EXPECT_TRUE(c.saw_fatal());
  EXPECT_TRUE(c.reports().back().fatal);
  EXPECT_EQ(c.reports().back().title, "BUG: kernel NULL pointer dereference in __collapse_huge_page_isolate");
}

TEST(Console, AnEndlessLineIsCutAndMemoryStaysBounded) {
  ConsoleAnalyzer c;
  c.feed("[ 1.0] Kernel panic - not syncing: ");
  const std::string chunk(1 << 16, 'A');
  for (int i = 0; i < 256; ++i) c.feed(chunk);  // 16 MiB without a newline
  EXPECT_LE(c.buffered_bytes(), 4096u);
  c.feed("\n");
  c.finish();
  ASSERT_EQ(c.reports().size(), 1u);
  EXPECT_LE(c.reports()[0].title.size(), 200u);
  EXPECT_LE(c.reports()[0].excerpt.size(), 600u);
}

TEST(Console, LongConsoleWithoutReportsHoldsNothing) {
  ConsoleAnalyzer c;
  std::string boring;
  for (int i = 0; i < 1000; ++i) boring += "[ 1.0] zram0: detected capacity change from 0 to 1048576\n";
  for (int i = 0; i < 200; ++i) c.feed(boring);  // 200k lines
  c.feed(kX86Warning);
  c.finish();
  EXPECT_EQ(c.reports().size(), 1u);
  EXPECT_LE(c.buffered_bytes(), 4096u);
}

}  // namespace
}  // namespace foliolab::collect
