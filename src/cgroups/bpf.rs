//! cgroup v2 device control: the device rules compiled into a
//! `BPF_PROG_TYPE_CGROUP_DEVICE` program, loaded with bpf(2) and attached
//! to the container's cgroup. The kernel runs it on every open or mknod of
//! a device node and refuses the access when it returns 0.
//!
//! The program checks the rules from the last to the first: the first
//! one that matches decides, as a later `devices.allow`/`deny` line
//! overrides an earlier one on v1. A device no rule matches is allowed
//! (the parent cgroup's programs still apply); a leading "deny all" rule
//! turns that into a deny.

use super::devices::{MKNOD, READ, Rule, WRITE};
use crate::error::{Context, Error, Result};
use nix::errno::Errno;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// One eBPF instruction.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn { code, regs: (src << 4) | dst, off, imm }
}

// Opcodes (class | operation | source).
const LDX_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const AND32_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const RSH32_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const MOV32_X: u8 = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
const MOV64_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const JEQ_K: u8 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

// Registers: r1 = struct bpf_cgroup_dev_ctx { u32 access_type; u32 major;
// u32 minor; }, where access_type = access << 16 | type.
const R0: u8 = 0;
const R1: u8 = 1;
const TYPE: u8 = 2;
const ACCESS: u8 = 3;
const MAJOR: u8 = 4;
const MINOR: u8 = 5;
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ALL: u32 = MKNOD | READ | WRITE;

/// Compiles the rules (in the order they take effect) into a program.
fn compile(rules: &[Rule]) -> Vec<Insn> {
    let mut prog = vec![
        insn(LDX_W, TYPE, R1, 0, 0),
        insn(AND32_K, TYPE, 0, 0, 0xffff),
        insn(LDX_W, ACCESS, R1, 0, 0),
        insn(RSH32_K, ACCESS, 0, 0, 16),
        insn(LDX_W, MAJOR, R1, 4, 0),
        insn(LDX_W, MINOR, R1, 8, 0),
    ];
    for rule in rules.iter().rev() {
        let dev_type = match rule.kind {
            Some('b') => Some(DEV_BLOCK),
            Some('c') => Some(DEV_CHAR),
            Some(_) => continue, // fifos: not device nodes, never checked
            None => None,
        };
        // Each conditional jump skips to the end of this rule's block.
        let mut block = Vec::new();
        let mut jumps = Vec::new();
        let mut jump_unless = |block: &mut Vec<Insn>, code: u8, reg: u8, imm: i32| {
            jumps.push(block.len());
            block.push(insn(code, reg, 0, 0, imm));
        };
        if let Some(t) = dev_type {
            jump_unless(&mut block, JNE_K, TYPE, t);
        }
        if let Some(m) = rule.major {
            jump_unless(&mut block, JNE_K, MAJOR, m as i32);
        }
        if let Some(m) = rule.minor {
            jump_unless(&mut block, JNE_K, MINOR, m as i32);
        }
        if rule.access & ALL != ALL {
            block.push(insn(MOV32_X, R1, ACCESS, 0, 0));
            if rule.allow {
                // Allowed only if no access outside the rule's is asked for.
                block.push(insn(AND32_K, R1, 0, 0, (!rule.access & ALL) as i32));
                jump_unless(&mut block, JNE_K, R1, 0);
            } else {
                // Denied if any of the rule's accesses is asked for.
                block.push(insn(AND32_K, R1, 0, 0, rule.access as i32));
                jump_unless(&mut block, JEQ_K, R1, 0);
            }
        }
        block.push(insn(MOV64_K, R0, 0, 0, i32::from(rule.allow)));
        block.push(insn(EXIT, 0, 0, 0, 0));
        let len = block.len();
        for &j in &jumps {
            block[j].off = (len - j - 1) as i16;
        }
        prog.extend(block);
        if jumps.is_empty() {
            // It matches everything: the rules before it never decide (and
            // the verifier refuses code that cannot be reached).
            return prog;
        }
    }
    prog.push(insn(MOV64_K, R0, 0, 0, 1));
    prog.push(insn(EXIT, 0, 0, 0, 0));
    prog
}

// bpf(2) commands and constants.
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The head of `union bpf_attr` for BPF_PROG_LOAD; the rest stays zero.
#[repr(C)]
#[derive(Default)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
    _rest: [u64; 8],
}

#[repr(C)]
#[derive(Default)]
struct ProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
    _rest: [u32; 11],
}

#[repr(C)]
#[derive(Default)]
struct ProgQuery {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _rest: [u32; 11],
}

#[repr(C)]
#[derive(Default)]
struct GetFdById {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
    _rest: [u32; 13],
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::result::Result<libc::c_long, Errno> {
    // SAFETY: attr is a zero-padded bpf_attr variant of the size passed.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, std::mem::size_of::<T>()) };
    Errno::result(r)
}

fn load(prog: &[Insn]) -> Result<OwnedFd> {
    let license = c"Apache-2.0";
    let mut name = [0u8; 16];
    name[..5].copy_from_slice(b"kiste");
    let mut attr = ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: prog.len() as u32,
        insns: prog.as_ptr() as u64,
        license: license.as_ptr() as u64,
        prog_name: name,
        ..Default::default()
    };
    match bpf(BPF_PROG_LOAD, &mut attr) {
        // SAFETY: a new fd that nothing else owns.
        Ok(fd) => Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) }),
        Err(e) => {
            // Ask again with the verifier's log, to say why.
            let mut log = vec![0u8; 64 * 1024];
            attr.log_level = 1;
            attr.log_size = log.len() as u32;
            attr.log_buf = log.as_mut_ptr() as u64;
            let _ = bpf(BPF_PROG_LOAD, &mut attr);
            let text = String::from_utf8_lossy(&log[..log.iter().position(|&b| b == 0).unwrap_or(0)]).trim().to_string();
            let last = text.lines().last().unwrap_or("").to_string();
            let why = if last.is_empty() { String::new() } else { format!(" (verifier: {last})") };
            Err(Error::sys(format!("linux.resources.devices: load the device-rules BPF program{why}"), e))
        }
    }
}

/// Programs of this type already attached to the cgroup itself.
fn attached(cg: &OwnedFd) -> Result<Vec<u32>> {
    let mut ids = [0u32; 64];
    let mut attr = ProgQuery {
        target_fd: cg.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        ..Default::default()
    };
    bpf(BPF_PROG_QUERY, &mut attr).context("query the cgroup's device programs")?;
    Ok(ids[..attr.prog_cnt.min(64) as usize].to_vec())
}

/// Puts the rules in force on the v2 cgroup `dir`, replacing any device
/// program attached there before (an `update`).
pub fn apply(dir: &Path, rules: &[Rule]) -> Result<()> {
    let prog = load(&compile(rules))?;
    let cg: OwnedFd = std::fs::File::open(dir).with_context(|| format!("open {}", dir.display()))?.into();
    let old = attached(&cg)?;
    let mut attr = ProgAttach {
        target_fd: cg.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    bpf(BPF_PROG_ATTACH, &mut attr)
        .with_context(|| format!("linux.resources.devices: attach the device-rules BPF program to {}", dir.display()))?;
    for id in old {
        let mut get = GetFdById { prog_id: id, ..Default::default() };
        let Ok(fd) = bpf(BPF_PROG_GET_FD_BY_ID, &mut get) else { continue };
        // SAFETY: a new fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        let mut detach = ProgAttach {
            target_fd: cg.as_raw_fd() as u32,
            attach_bpf_fd: fd.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            ..Default::default()
        };
        bpf(BPF_PROG_DETACH, &mut detach).context("linux.resources.devices: detach the old device-rules BPF program")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(allow: bool, kind: Option<char>, major: Option<i64>, minor: Option<i64>, access: u32) -> Rule {
        Rule { allow, kind, major, minor, access }
    }

    /// Runs the program as the kernel would, for one device access.
    fn eval(prog: &[Insn], dev_type: u32, major: u32, minor: u32, access: u32) -> u64 {
        let mut r = [0u64; 11];
        let ctx = [access << 16 | dev_type, major, minor];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_W => r[dst] = u64::from(ctx[i.off as usize / 4]),
                AND32_K => r[dst] = u64::from(r[dst] as u32 & i.imm as u32),
                RSH32_K => r[dst] = u64::from((r[dst] as u32) >> i.imm),
                MOV32_X => r[dst] = u64::from(r[src] as u32),
                MOV64_K => r[dst] = i.imm as i64 as u64,
                JEQ_K if r[dst] == i.imm as i64 as u64 => pc += i.off as usize,
                JNE_K if r[dst] != i.imm as i64 as u64 => pc += i.off as usize,
                JEQ_K | JNE_K => {}
                EXIT => return r[0],
                c => panic!("opcode {c:#x}"),
            }
        }
    }

    #[test]
    fn last_matching_rule_decides() {
        let rules = vec![
            rule(false, None, None, None, ALL),
            rule(true, Some('c'), Some(1), Some(3), ALL),
            rule(true, Some('c'), Some(136), None, READ | WRITE),
            rule(false, Some('c'), Some(1), Some(3), WRITE),
        ];
        let p = compile(&rules);
        let c = DEV_CHAR as u32;
        assert_eq!(eval(&p, c, 1, 3, READ), 1);
        assert_eq!(eval(&p, c, 1, 3, WRITE), 0);
        assert_eq!(eval(&p, c, 1, 3, READ | WRITE), 0);
        assert_eq!(eval(&p, c, 136, 7, READ | WRITE), 1);
        assert_eq!(eval(&p, c, 136, 7, MKNOD), 0);
        assert_eq!(eval(&p, c, 1, 5, READ), 0);
        assert_eq!(eval(&p, DEV_BLOCK as u32, 1, 3, READ), 0);
    }

    #[test]
    fn no_deny_all_means_allow_by_default() {
        let p = compile(&[rule(false, Some('c'), Some(1), Some(5), ALL)]);
        assert_eq!(eval(&p, DEV_CHAR as u32, 1, 5, READ), 0);
        assert_eq!(eval(&p, DEV_CHAR as u32, 1, 3, READ), 1);
        assert_eq!(eval(&p, DEV_BLOCK as u32, 8, 0, READ), 1);
    }

    #[test]
    fn a_total_rule_ends_the_program() {
        let p = compile(&[rule(true, Some('c'), Some(1), Some(3), ALL), rule(true, None, None, None, ALL)]);
        assert_eq!(p.last().map(|i| i.code), Some(EXIT));
        assert_eq!(p.len(), 6 + 2);
        assert_eq!(eval(&p, DEV_BLOCK as u32, 8, 0, WRITE), 1);
    }
}
