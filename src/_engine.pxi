# Included by src/_wts.pyx: the bulk engine's Python face (the native half is src/wtsapi/wts_engine.c).
#
# wts._bulk (the run loop of wts.Farm) decides what to call and what the answers mean; this part
# turns its requests into native jobs, lets C worker threads make the WTS calls with no GIL anywhere
# near them, and hands finished calls back as plain tuples.  The owner thread only ever blocks in Engine.wait, with the GIL
# released, for at most the time it asks.  Its C declarations are in src/include/wtsengine.pxd.

# What Engine.wait reports for each finished call.
CALL_OK = 0          # the call succeeded; payload holds its result
CALL_FAILED = 1      # the call failed with winerror
CALL_TIMEDOUT = 2    # no answer by the deadline; the call was abandoned (winerror ERROR_TIMEOUT)
CALL_CANCELLED = 3   # never sent: cancelled, or its host was marked dead

OP_ENUMERATE = WTS_OP_ENUMERATE
OP_QUERY = WTS_OP_QUERY
OP_DISCONNECT = WTS_OP_DISCONNECT
OP_LOGOFF = WTS_OP_LOGOFF
OP_MESSAGE = WTS_OP_MESSAGE
OP_CONNECT = WTS_OP_CONNECT
OP_PROCESSES = WTS_OP_PROCESSES
OP_TERMINATE = WTS_OP_TERMINATE

cdef enum:
    _WAIT_BATCH = 512  # finished calls taken per wait


def engine_threads():
    """Engine worker threads alive in this process, and how many of them are stuck in calls that
    were abandoned at their deadline: (threads, stuck)."""
    return wts_engine_threads(), wts_engine_stuck()


def engine_abandoned():
    """Threads in abandoned calls: stuck past their deadline, or still in a call when its engine was
    closed.  Each keeps its thread until its server answers."""
    return wts_engine_abandoned()


def engine_abandoned_limit(limit=None):
    """The most abandoned threads this process allows (default 1024); with ``limit``, sets it.
    Returns the limit that was in force.

    At the limit no engine starts another worker: calls wait for the workers an engine still has, and
    an engine with none fails its calls at once, unsent, with RPC_S_CALL_FAILED_DNE (1727).  As stuck
    calls return, their threads go back to work.  Threads stay below the limit plus the concurrency of
    the engines running at the time.
    """
    if limit is None:
        return wts_engine_set_abandoned_limit(0)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1_000_000:
        raise ValueError(f"the abandoned-thread limit must be an int from 1 to 1000000, not {limit!r}")
    return wts_engine_set_abandoned_limit(limit)


cdef class Host:
    """A server as the engine sees it: an open handle (WTSOpenServerW, no network traffic) shared by
    every call aimed at the server, and closed when the last of them is done."""
    cdef wts_host *h
    cdef readonly object name      # None: the local server (WTS_CURRENT_SERVER_HANDLE)
    cdef readonly Provider provider

    def __cinit__(self, Provider provider not None, name):
        cdef bytes w
        cdef const WCHAR *pw = NULL
        cdef DWORD err = 0
        self.provider = provider
        self.name = name
        if name is not None:
            if not isinstance(name, str) or not name:
                raise ValueError(f"server name must be a non-empty string, not {name!r}")
            w = _wide(name)
            pw = <const WCHAR *><char *>w
        _tsts_opening(provider)
        cdef wts_logon *logon = provider._logon()
        wts_logon_retain(logon)  # the provider may let go of it (close) while the GIL is released
        with nogil:
            self.h = wts_host_open_as(provider.p, logon, pw, &err)
            wts_logon_release(logon)
        if self.h == NULL:
            _raise(err, "WTSOpenServerW", name, None, provider)

    def __dealloc__(self):
        if self.h != NULL:
            wts_host_release(self.h)
            self.h = NULL

    def kill(self):
        """Calls to this host not yet started come back cancelled, unsent."""
        wts_host_kill(self.h)

    def __repr__(self):
        return f"<wts engine host {self.name or 'local'} via {self.provider.name}>"


cdef class Engine:
    """A pool of native worker threads making WTS calls, at most ``concurrency`` at once.

    Each call gets a deadline (``timeout`` seconds from when a worker starts it; 0 for none).  A call
    past its deadline comes back from ``wait`` as CALL_TIMEDOUT and its worker stops counting against
    the limit; when the call returns at last, that worker frees the result itself.
    """
    cdef wts_engine *e
    cdef readonly int concurrency
    cdef object record, states   # how enumerations become records (wts.Session, ConnectState members)
    cdef dict labels             # enumeration tag -> the server name its records carry

    def __cinit__(self, int concurrency, record=None, states=None):
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        self.concurrency = concurrency
        self.record = record
        self.states = states
        self.labels = {}
        self.e = wts_engine_new(concurrency)
        if self.e == NULL:
            raise MemoryError()

    def __dealloc__(self):
        self.close()

    def close(self):
        """Drop queued calls and let the workers go; calls still running finish on their own."""
        if self.e != NULL:
            wts_engine_close(self.e)
            self.e = NULL

    cdef wts_job *_job(self, int op, Host host, DWORD session_id, double timeout, int64_t tag) except NULL:
        if self.e == NULL:
            raise ValueError("the engine is closed")
        if host is None or host.h == NULL:
            raise ValueError("no host")
        cdef int64_t ns = <int64_t>(timeout * 1e9) if timeout > 0 else 0
        cdef wts_job *job = wts_job_new(op, host.h, session_id, ns, tag)
        if job == NULL:
            raise MemoryError()
        return job

    cdef int _submit(self, wts_job *job) except -1:
        # With the GIL held: no thread waits for the GIL while holding the engine's lock (workers
        # take it after letting go of the lock), and a worker woken here waits for the GIL until the
        # owner next waits (wts_engine_wait, without it), so a burst of submits costs no handoff
        # of the GIL to a worker and back per job.
        cdef int rc = wts_engine_submit(self.e, &job, 1)
        if rc < 0:
            wts_job_release(self.e, job)
            raise OSError("wts: could not start an engine worker thread")
        return 0

    def enumerate(self, Host host not None, int64_t tag, double timeout):
        """WTSEnumerateSessionsExW level 1 on host; the payload is a list of records naming host."""
        self._submit(self._job(WTS_OP_ENUMERATE, host, 0, timeout, tag))
        self.labels[tag] = host.name

    def query(self, Host host not None, DWORD session_id, int info_class, int64_t tag, double timeout):
        """WTSQuerySessionInformationW; the payload is decoded as ServerHandle.query decodes it."""
        cdef wts_job *job = self._job(WTS_OP_QUERY, host, session_id, timeout, tag)
        job.info_class = <DWORD>info_class
        self._submit(job)

    def end_session(self, Host host not None, DWORD session_id, bint logoff, bint wait, int64_t tag,
                    double timeout):
        """WTSLogoffSession or WTSDisconnectSession; no payload."""
        cdef wts_job *job = self._job(WTS_OP_LOGOFF if logoff else WTS_OP_DISCONNECT, host, session_id,
                                      timeout, tag)
        job.wait = wait
        self._submit(job)

    def message(self, Host host not None, DWORD session_id, str title, str text, DWORD style,
                DWORD msg_timeout, bint wait, int64_t tag, double timeout):
        """WTSSendMessageW; the payload is the response code."""
        cdef bytes wt = _wide(title), wm = _wide(text)
        cdef wts_job *job = self._job(WTS_OP_MESSAGE, host, session_id, timeout, tag)
        if wts_job_set_message(job, <const WCHAR *><char *>wt, <DWORD>(len(wt) - 2),
                               <const WCHAR *><char *>wm, <DWORD>(len(wm) - 2)) != 0:
            wts_job_release(self.e, job)
            raise MemoryError()
        job.style = style
        job.msg_timeout = msg_timeout
        job.wait = wait
        self._submit(job)

    def connect(self, Host host not None, ULONG logon_id, ULONG target_id, str password, bint wait,
                int64_t tag, double timeout):
        """WTSConnectSessionW: attach session logon_id to target_id (0xFFFFFFFF: the caller's), as
        wts.connect does, but with a deadline; no payload.  The call has no server handle (it acts on
        the local server only), so host must be the local one (name None); it gives the provider.
        The job keeps its own copy of the password and wipes it when freed."""
        if host.name is not None and host.provider.p.ConnectRemoteSessionW == NULL:
            raise ValueError(f"WTSConnectSessionW acts on the local server only, not {host.name!r}")
        cdef bytes wp = _wide(password)
        cdef wts_job *job = self._job(WTS_OP_CONNECT, host, logon_id, timeout, tag)
        if wts_job_set_password(job, <const WCHAR *><char *>wp, <DWORD>(len(wp) - 2)) != 0:
            wts_job_release(self.e, job)
            raise MemoryError()
        job.target_id = target_id
        job.wait = wait
        self._submit(job)

    def processes(self, Host host not None, int64_t tag, double timeout, DWORD session_id=WTS_ANY_SESSION):
        """WTSEnumerateProcessesExW level 1 on host (ANY_SESSION: every session's), then a LookupAccountSidW
        on host per distinct SID (the well-known service accounts without one), all in the worker and
        within the deadline; the payload is the list of rows ServerHandle.processes returns
        (wts._types.process_from_row makes them Process records)."""
        self._submit(self._job(WTS_OP_PROCESSES, host, session_id, timeout, tag))

    def terminate(self, Host host not None, DWORD process_id, DWORD exit_code, int64_t tag, double timeout):
        """WTSTerminateProcess(process_id, exit_code) on host; no payload."""
        cdef wts_job *job = self._job(WTS_OP_TERMINATE, host, 0, timeout, tag)
        job.process_id = process_id
        job.exit_code = exit_code
        self._submit(job)

    def wait(self, double seconds):
        """Finished calls, waiting at most ``seconds`` (GIL released) for the first of them:
        a list of (tag, op, status, winerror, payload, elapsed seconds), in the order they finished.

        status is CALL_OK, CALL_FAILED, CALL_TIMEDOUT or CALL_CANCELLED.
        """
        if self.e == NULL:
            raise ValueError("the engine is closed")
        cdef wts_job *done[_WAIT_BATCH]
        cdef int n, k
        cdef int64_t ns = <int64_t>(seconds * 1e9) if seconds > 0 else 0
        cdef wts_job *job
        cdef list out = []
        cdef object payload
        cdef int status
        with nogil:
            n = wts_engine_wait(self.e, done, _WAIT_BATCH, ns)
        k = 0
        try:
            while k < n:
                job = done[k]
                k += 1
                try:
                    payload = None
                    if job.state == WTS_JOB_TIMEDOUT:
                        status = CALL_TIMEDOUT
                    elif job.state == WTS_JOB_CANCELLED:
                        status = CALL_CANCELLED
                    elif not job.ok:
                        status = CALL_FAILED
                    else:
                        status = CALL_OK
                        if job.op == WTS_OP_ENUMERATE:
                            payload = _session_rows(<WTS_SESSION_INFO_1W *>job.buf, job.count, self.record,
                                                    self.labels.get(job.tag), self.states)
                        elif job.op == WTS_OP_QUERY:
                            payload = _decode(<int>job.info_class, <LPWSTR>job.buf, job.count)
                        elif job.op == WTS_OP_MESSAGE:
                            payload = job.response
                        elif job.op == WTS_OP_PROCESSES:
                            payload = _process_rows(<wts_process_list *>job.buf)
                    if job.op == WTS_OP_ENUMERATE:
                        self.labels.pop(job.tag, None)
                    out.append((job.tag, job.op, status, job.error if status != CALL_OK else 0, payload,
                                job.elapsed_ns / 1e9))
                finally:
                    wts_job_release(self.e, job)
        except BaseException:
            # Never strand a finished job: release the rest before the error goes on.
            while k < n:
                wts_job_release(self.e, done[k])
                k += 1
            raise
        return out

    def cancel_queued(self):
        """Every call not yet started comes back from ``wait`` as CALL_CANCELLED."""
        if self.e != NULL:
            wts_engine_cancel_queued(self.e)

    @property
    def pending(self):
        """Calls submitted and not yet collected by ``wait``."""
        return wts_engine_pending(self.e) if self.e != NULL else 0
