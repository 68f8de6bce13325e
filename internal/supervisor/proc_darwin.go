package supervisor

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// sZomb is the p_stat value of a zombie (sys/proc.h).
const sZomb = 5

func fromKinfo(kp *unix.KinfoProc) procStat {
	pid := int(kp.Proc.P_pid)
	sid, _ := unix.Getsid(pid)
	tv := kp.Proc.P_starttime
	return procStat{
		PID:    pid,
		PGID:   int(kp.Eproc.Pgid),
		SID:    sid,
		Start:  uint64(tv.Sec)*1e6 + uint64(tv.Usec),
		Zombie: kp.Proc.P_stat == sZomb,
	}
}

// readProc asks the kernel (sysctl kern.proc.pid) about pid.
func readProc(pid int) (procStat, error) {
	kp, err := unix.SysctlKinfoProc("kern.proc.pid", pid)
	if err != nil {
		return procStat{}, fmt.Errorf("reading process %d: %w", pid, err)
	}
	if kp.Proc.P_pid != int32(pid) {
		return procStat{}, errNoProcess
	}
	return fromKinfo(kp), nil
}

// groupMembers lists the live processes of group pgid (sysctl kern.proc.pgrp).
func groupMembers(pgid int) ([]procStat, error) {
	kps, err := unix.SysctlKinfoProcSlice("kern.proc.pgrp", pgid)
	if err != nil {
		return nil, fmt.Errorf("listing process group %d: %w", pgid, err)
	}
	var out []procStat
	for i := range kps {
		if st := fromKinfo(&kps[i]); !st.Zombie {
			out = append(out, st)
		}
	}
	return out, nil
}

// haveProcUsage says readProc fills RSS and CPU: not here.
const haveProcUsage = false
