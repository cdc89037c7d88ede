/* The fast audit engine's native per-chunk scanner (see nullband/traces/native.py).
 *
 * scan(data, plan) reads a chunk of generic JSONL. Per line it validates the JSON
 * strictly (structure, escapes, UTF-8, numbers) and types the step as the engine's
 * msgspec struct (nullband.traces.msgstep.AuditedStep) types it. A line is ACCEPTED
 * only when it is proven to be a valid step whose flags are all known here; then its
 * compact facts (trace code, timing key, duration, start time, step id) are written
 * here, and for a line with a simple flag (fallback, retry, model, cache hit, error)
 * also the reference's per-step facts ("flagged"). A line that would be accepted but
 * for a configured tool's arguments or a tool step's result that its plan does not
 * prove valid is PENDING: it is accepted with its simple flags' facts, and the values
 * of those checks (their byte spans) go back for Python to run the reference's tool
 * checks on. Every other line is DECLINED: the Python path decodes and audits it as
 * before. Declining is always safe; acceptance (pending included) must be proven. When
 * a line's trace id or step id cannot be read, scan returns None and the whole chunk
 * goes to Python.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <stdarg.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

typedef unsigned char u8;

#ifdef __GNUC__
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define LIKELY(x) (x)
#define UNLIKELY(x) (x)
#endif

/* ------------------------------------------------------------------ buffers */

typedef struct {
    char *buf;
    Py_ssize_t len, cap;
} Buf;

static int buf_reserve(Buf *b, Py_ssize_t extra) {
    if (b->len + extra <= b->cap) return 0;
    Py_ssize_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra) cap *= 2;
    char *nb = PyMem_Realloc(b->buf, (size_t)cap);
    if (!nb) {
        PyErr_NoMemory();
        return -1;
    }
    b->buf = nb;
    b->cap = cap;
    return 0;
}

static int buf_put(Buf *b, const void *src, Py_ssize_t n) {
    if (buf_reserve(b, n) < 0) return -1;
    memcpy(b->buf + b->len, src, (size_t)n);
    b->len += n;
    return 0;
}

static void buf_free(Buf *b) {
    PyMem_Free(b->buf);
    b->buf = NULL;
    b->len = b->cap = 0;
}

/* ------------------------------------------------------------- schema plans */

enum { N_NEVER, N_ANY, N_NULL, N_BOOL, N_STR, N_ENUM, N_INT, N_FLOAT, N_LIST, N_OBJ, N_DICT };

typedef struct {
    u8 set[16]; /* ASCII bitmap */
    Py_ssize_t lo, hi; /* repetitions; hi < 0: unbounded */
} Atom;

typedef struct Node {
    int kind;
    int nullable;
    Py_ssize_t min_n, max_n; /* string length / list length, -1 none */
    int has_pat, pat_start, pat_end;
    Py_ssize_t n_atoms;
    Atom *atoms;
    Py_ssize_t n_enum;
    char **enum_s;
    Py_ssize_t *enum_n;
    int has_b[4]; /* ge le gt lt */
    long long ib[4];
    double db[4];
    struct Node *item;
    int forbid;
    Py_ssize_t n_fields;
    char **fname;
    Py_ssize_t *fname_n;
    int *freq;
    struct Node **ftype;
} Node;

static void node_free(Node *n) {
    if (!n) return;
    PyMem_Free(n->atoms);
    for (Py_ssize_t i = 0; i < n->n_enum; i++) PyMem_Free(n->enum_s[i]);
    PyMem_Free(n->enum_s);
    PyMem_Free(n->enum_n);
    node_free(n->item);
    for (Py_ssize_t i = 0; i < n->n_fields; i++) {
        PyMem_Free(n->fname[i]);
        node_free(n->ftype[i]);
    }
    PyMem_Free(n->fname);
    PyMem_Free(n->fname_n);
    PyMem_Free(n->freq);
    PyMem_Free(n->ftype);
    PyMem_Free(n);
}

static int copy_bytes(PyObject *o, char **out, Py_ssize_t *n) {
    char *s;
    if (PyBytes_AsStringAndSize(o, &s, n) < 0) return -1;
    *out = PyMem_Malloc((size_t)*n + 1);
    if (!*out) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(*out, s, (size_t)*n);
    (*out)[*n] = 0;
    return 0;
}

static Py_ssize_t opt_size(PyObject *o) { return o == Py_None ? -1 : PyLong_AsSsize_t(o); }

/* A plan node from its tuple description (built by native.py from msgspec type info). */
static Node *node_new(PyObject *d) {
    if (!PyTuple_Check(d) || PyTuple_GET_SIZE(d) < 1) {
        PyErr_SetString(PyExc_TypeError, "plan node must be a non-empty tuple");
        return NULL;
    }
    Node *n = PyMem_Calloc(1, sizeof(Node));
    if (!n) return (Node *)PyErr_NoMemory();
    n->min_n = n->max_n = -1;
    const char *k = PyUnicode_AsUTF8(PyTuple_GET_ITEM(d, 0));
    if (!k) goto fail;
    Py_ssize_t sz = PyTuple_GET_SIZE(d);
    if (!strcmp(k, "opt") && sz == 2) {
        node_free(n);
        n = node_new(PyTuple_GET_ITEM(d, 1));
        if (n) n->nullable = 1;
        return n;
    } else if (!strcmp(k, "never")) {
        n->kind = N_NEVER;
    } else if (!strcmp(k, "any")) {
        n->kind = N_ANY;
    } else if (!strcmp(k, "null")) {
        n->kind = N_NULL;
    } else if (!strcmp(k, "bool")) {
        n->kind = N_BOOL;
    } else if (!strcmp(k, "dict")) {
        n->kind = N_DICT;
    } else if (!strcmp(k, "str") && sz == 4) {
        /* ("str", min, max, None | (start_anchor, end_anchor, ((set16, lo, hi), ...))) */
        n->kind = N_STR;
        n->min_n = opt_size(PyTuple_GET_ITEM(d, 1));
        n->max_n = opt_size(PyTuple_GET_ITEM(d, 2));
        PyObject *pat = PyTuple_GET_ITEM(d, 3);
        if (pat != Py_None) {
            n->has_pat = 1;
            n->pat_start = PyObject_IsTrue(PyTuple_GET_ITEM(pat, 0));
            n->pat_end = PyObject_IsTrue(PyTuple_GET_ITEM(pat, 1));
            PyObject *atoms = PyTuple_GET_ITEM(pat, 2);
            n->n_atoms = PyTuple_GET_SIZE(atoms);
            n->atoms = PyMem_Calloc((size_t)n->n_atoms + 1, sizeof(Atom));
            if (!n->atoms) goto nomem;
            for (Py_ssize_t i = 0; i < n->n_atoms; i++) {
                PyObject *a = PyTuple_GET_ITEM(atoms, i);
                char *s;
                Py_ssize_t len;
                if (PyBytes_AsStringAndSize(PyTuple_GET_ITEM(a, 0), &s, &len) < 0) goto fail;
                if (len != 16) {
                    PyErr_SetString(PyExc_ValueError, "a character set is 16 bytes");
                    goto fail;
                }
                memcpy(n->atoms[i].set, s, 16);
                n->atoms[i].lo = PyLong_AsSsize_t(PyTuple_GET_ITEM(a, 1));
                n->atoms[i].hi = opt_size(PyTuple_GET_ITEM(a, 2));
            }
        }
    } else if (!strcmp(k, "enum") && sz == 2) {
        n->kind = N_ENUM;
        PyObject *vals = PyTuple_GET_ITEM(d, 1);
        n->n_enum = 0;
        Py_ssize_t m = PyTuple_GET_SIZE(vals);
        n->enum_s = PyMem_Calloc((size_t)m + 1, sizeof(char *));
        n->enum_n = PyMem_Calloc((size_t)m + 1, sizeof(Py_ssize_t));
        if (!n->enum_s || !n->enum_n) goto nomem;
        for (Py_ssize_t i = 0; i < m; i++) {
            if (copy_bytes(PyTuple_GET_ITEM(vals, i), &n->enum_s[i], &n->enum_n[i]) < 0) goto fail;
            n->n_enum++;
        }
    } else if ((!strcmp(k, "int") || !strcmp(k, "float")) && sz == 5) {
        n->kind = k[0] == 'i' ? N_INT : N_FLOAT;
        for (int i = 0; i < 4; i++) {
            PyObject *b = PyTuple_GET_ITEM(d, i + 1);
            if (b == Py_None) continue;
            n->has_b[i] = 1;
            if (n->kind == N_INT) {
                n->ib[i] = PyLong_AsLongLong(b);
            } else {
                n->db[i] = PyFloat_AsDouble(b);
            }
            if (PyErr_Occurred()) goto fail;
        }
    } else if (!strcmp(k, "list") && sz == 4) {
        n->kind = N_LIST;
        n->item = node_new(PyTuple_GET_ITEM(d, 1));
        if (!n->item) goto fail;
        n->min_n = opt_size(PyTuple_GET_ITEM(d, 2));
        n->max_n = opt_size(PyTuple_GET_ITEM(d, 3));
    } else if (!strcmp(k, "obj") && sz == 3) {
        /* ("obj", forbid_unknown, ((name_bytes, required, node), ...)) */
        n->kind = N_OBJ;
        n->forbid = PyObject_IsTrue(PyTuple_GET_ITEM(d, 1));
        PyObject *fields = PyTuple_GET_ITEM(d, 2);
        Py_ssize_t m = PyTuple_GET_SIZE(fields);
        if (m > 64) {
            n->kind = N_NEVER;
        } else {
            n->fname = PyMem_Calloc((size_t)m + 1, sizeof(char *));
            n->fname_n = PyMem_Calloc((size_t)m + 1, sizeof(Py_ssize_t));
            n->freq = PyMem_Calloc((size_t)m + 1, sizeof(int));
            n->ftype = PyMem_Calloc((size_t)m + 1, sizeof(Node *));
            if (!n->fname || !n->fname_n || !n->freq || !n->ftype) goto nomem;
            for (Py_ssize_t i = 0; i < m; i++) {
                PyObject *f = PyTuple_GET_ITEM(fields, i);
                n->n_fields++;
                if (copy_bytes(PyTuple_GET_ITEM(f, 0), &n->fname[i], &n->fname_n[i]) < 0)
                    goto fail;
                n->freq[i] = PyObject_IsTrue(PyTuple_GET_ITEM(f, 1));
                n->ftype[i] = node_new(PyTuple_GET_ITEM(f, 2));
                if (!n->ftype[i]) goto fail;
            }
        }
    } else {
        PyErr_Format(PyExc_ValueError, "unknown plan node %s", k);
        goto fail;
    }
    if (PyErr_Occurred()) goto fail;
    return n;
nomem:
    PyErr_NoMemory();
fail:
    node_free(n);
    return NULL;
}

/* ---------------------------------------------------------------- the plan */

typedef struct {
    char *name;
    Py_ssize_t n;
    Node *node;
} Named;

typedef struct {
    PyObject_HEAD
    Named *tools; /* configured tools: argument plans (N_NEVER: no fast type) */
    Py_ssize_t n_tools;
    Named *results; /* tools with a result schema: result plans */
    Py_ssize_t n_results;
    Named *pin_k; /* pinned: normalised requested model -> normalised served model */
    Named *pin_v;
    Py_ssize_t n_pin;
    Named *ignore; /* flag codes the configuration ignores */
    Py_ssize_t n_ignore;
    int tool_steps; /* 0: decline every tool step (ground truth is configured) */
} Plan;

static void named_free(Named *a, Py_ssize_t n) {
    if (!a) return;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyMem_Free(a[i].name);
        node_free(a[i].node);
    }
    PyMem_Free(a);
}

static void plan_dealloc(Plan *self) {
    named_free(self->tools, self->n_tools);
    named_free(self->results, self->n_results);
    named_free(self->pin_k, self->n_pin);
    named_free(self->pin_v, self->n_pin);
    named_free(self->ignore, self->n_ignore);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* ((name_bytes, node_or_bytes), ...) -> array; with_nodes=0 stores the second item as a name */
static int named_from(PyObject *seq, Named **out_k, Named **out_v, Py_ssize_t *n) {
    if (!PyTuple_Check(seq)) {
        PyErr_SetString(PyExc_TypeError, "plan parts must be tuples");
        return -1;
    }
    Py_ssize_t m = PyTuple_GET_SIZE(seq);
    *out_k = PyMem_Calloc((size_t)m + 1, sizeof(Named));
    if (out_v) *out_v = PyMem_Calloc((size_t)m + 1, sizeof(Named));
    if (!*out_k || (out_v && !*out_v)) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < m; i++) {
        PyObject *pair = PyTuple_GET_ITEM(seq, i);
        (*n)++;
        if (copy_bytes(PyTuple_GET_ITEM(pair, 0), &(*out_k)[i].name, &(*out_k)[i].n) < 0) return -1;
        PyObject *second = PyTuple_GET_ITEM(pair, 1);
        if (out_v) {
            if (copy_bytes(second, &(*out_v)[i].name, &(*out_v)[i].n) < 0) return -1;
        } else {
            (*out_k)[i].node = node_new(second);
            if (!(*out_k)[i].node) return -1;
        }
    }
    return 0;
}

static int plan_init(Plan *self, PyObject *args, PyObject *kwds) {
    PyObject *tools, *results, *pinned, *ignore;
    int tool_steps;
    static char *kw[] = {"tools", "results", "pinned", "ignore", "tool_steps", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOp", kw, &tools, &results, &pinned, &ignore,
                                     &tool_steps))
        return -1;
    if (self->tools || self->results || self->pin_k || self->ignore) {
        PyErr_SetString(PyExc_RuntimeError, "a plan is initialised once");
        return -1;
    }
    self->tool_steps = tool_steps;
    if (named_from(tools, &self->tools, NULL, &self->n_tools) < 0) return -1;
    if (named_from(results, &self->results, NULL, &self->n_results) < 0) return -1;
    if (named_from(pinned, &self->pin_k, &self->pin_v, &self->n_pin) < 0) return -1;
    /* ignore: a tuple of codes, stored as names */
    if (!PyTuple_Check(ignore)) {
        PyErr_SetString(PyExc_TypeError, "ignore must be a tuple of bytes");
        return -1;
    }
    self->ignore = PyMem_Calloc((size_t)PyTuple_GET_SIZE(ignore) + 1, sizeof(Named));
    if (!self->ignore) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(ignore); i++) {
        self->n_ignore++;
        if (copy_bytes(PyTuple_GET_ITEM(ignore, i), &self->ignore[i].name, &self->ignore[i].n) < 0)
            return -1;
    }
    return 0;
}

static PyTypeObject PlanType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "nullband.traces._scan.Plan",
    .tp_basicsize = sizeof(Plan),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)plan_init,
    .tp_dealloc = (destructor)plan_dealloc,
    .tp_doc = "Compiled audit configuration for scan(): tool plans, pinned models.",
};

static const Named *find_named(const Named *a, Py_ssize_t n, const char *s, Py_ssize_t len) {
    for (Py_ssize_t i = 0; i < n; i++)
        if (a[i].n == len && !memcmp(a[i].name, s, (size_t)len)) return &a[i];
    return NULL;
}

/* ------------------------------------------------------------- JSON parsing */

/* Results of the value parsers: OK valid and accepted; NO valid JSON (consumed) but not
 * proven (a decline); BAD not valid JSON (or too unusual to skip): parsing stops. */
enum { OK = 0, NO = 1, BAD = -1 };

/* Values already validated in this chunk (pointers into its bytes). A value whose bytes
 * equal one of them is that same value (a JSON array or object ends where its bytes
 * say), so it is valid without a second parse: tool definitions repeat on every model
 * call, and a trace's messages repeat in its later calls. */
#define RING 8
typedef struct {
    const u8 *p;
    Py_ssize_t n;
    int count;
} Seen;

struct Node;

/* A tool's arguments checked lately (its plan and its raw value) and the answer: a tool
 * step repeats the arguments of the call before it. */
typedef struct {
    const struct Node *node;
    const u8 *s;
    Py_ssize_t n;
    int is_str, esc, ok;
} ArgsSeen;
#define ARGS_RING 4

typedef struct {
    signed char next_field[64]; /* field -> the field that followed it last (-1 unknown) */
    ArgsSeen args[ARGS_RING];
    int args_next;
    Buf scratch; /* unescaped argument text */
    const u8 *model_s[2]; /* the last requested and served models compared (raw) */
    Py_ssize_t model_n[2];
    int model_esc[2], model_d; /* model_d < 0: none yet */
    Seen list[2];   /* the last input_messages / tool_definitions value */
    Seen ring[RING]; /* recent message objects */
    int next;
} Memo;

typedef struct {
    const u8 *p, *end;
    Buf tmp; /* unescaped strings */
    Memo *memo;
} Ctx;

static inline const u8 *ws(const u8 *p, const u8 *end) {
    if (LIKELY(p < end && *p > ' ')) return p; /* compact JSON: the common case */
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

/* After a member or element: skip whitespace, then take ',' (MORE: after an object's
   ',' the whitespace before the next key is skipped too) or the closing bracket
   (END); anything else is BAD. */
enum { END = 0, MORE = 1 };

static inline int next_member(Ctx *c, char close) {
    c->p = ws(c->p, c->end);
    if (UNLIKELY(c->p >= c->end)) return BAD;
    if (*c->p == ',') {
        c->p = close == '}' ? ws(c->p + 1, c->end) : c->p + 1;
        return MORE;
    }
    if (*c->p == close) {
        c->p++;
        return END;
    }
    return BAD;
}

/* At an object's '{': steps in; END when the object is empty (its '}' taken). */
static inline int open_object(Ctx *c) {
    c->p = ws(c->p + 1, c->end);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        return END;
    }
    return MORE;
}

static u8 STOP[256]; /* bytes that end the fast part of a string scan */

static int hexval(u8 c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int hex4(const u8 *p, const u8 *end, unsigned *out) {
    if (end - p < 4) return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0) return -1;
        v = v * 16 + (unsigned)h;
    }
    *out = v;
    return 0;
}

/* A string at c->p (on its quote): validated; *s..*e is its raw content; *esc set when
 * it holds escapes. Lone surrogate escapes and invalid UTF-8 are BAD. */
static int scan_string_rest(Ctx *c, const u8 *p, const u8 **e, int *esc);

#ifdef __SSE2__
/* Bit i set: byte i of the 16 at p is a quote, a backslash, or < 0x20 or >= 0x80. */
static inline int stop_mask(const u8 *p) {
    __m128i x = _mm_loadu_si128((const __m128i *)p);
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                          _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
                             _mm_cmplt_epi8(x, _mm_set1_epi8(0x20)));
    return _mm_movemask_epi8(m);
}
#endif

static inline int scan_string(Ctx *c, const u8 **s, const u8 **e, int *esc) {
    const u8 *p = c->p + 1;
    *s = p;
    *esc = 0;
#ifdef __SSE2__
    /* most strings (keys, short values) end within 16 bytes, in plain ASCII */
    if (LIKELY(p + 16 <= c->end)) {
        int mask = stop_mask(p);
        if (LIKELY(mask)) {
            const u8 *q = p + __builtin_ctz((unsigned)mask);
            if (LIKELY(*q == '"')) {
                *e = q;
                c->p = q + 1;
                return OK;
            }
        }
    }
#endif
    return scan_string_rest(c, p, e, esc);
}

/* The rest of a string from p: escapes, UTF-8, long runs. */
static int scan_string_rest(Ctx *c, const u8 *p, const u8 **e, int *esc) {
    const u8 *end = c->end;
    for (;;) {
#ifdef __SSE2__
        /* 16 bytes at a time: a quote, a backslash, or a byte < 0x20 or >= 0x80 (signed) */
        while (p + 16 <= end) {
            int mask = stop_mask(p);
            if (mask) {
                p += __builtin_ctz((unsigned)mask);
                break;
            }
            p += 16;
        }
#endif
        while (p < end && !STOP[*p]) p++;
        if (p >= end) return BAD;
        u8 ch = *p;
        if (ch == '"') {
            *e = p;
            c->p = p + 1;
            return OK;
        }
        if (ch == '\\') {
            *esc = 1;
            if (p + 1 >= end) return BAD;
            u8 x = p[1];
            if (x == 'u') {
                unsigned v;
                if (hex4(p + 2, end, &v) < 0) return BAD;
                p += 6;
                if (v >= 0xD800 && v <= 0xDBFF) {
                    unsigned w;
                    if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, end, &w) < 0 ||
                        w < 0xDC00 || w > 0xDFFF)
                        return BAD;
                    p += 6;
                } else if (v >= 0xDC00 && v <= 0xDFFF) {
                    return BAD;
                }
            } else if (x == '"' || x == '\\' || x == '/' || x == 'b' || x == 'f' || x == 'n' ||
                       x == 'r' || x == 't') {
                p += 2;
            } else {
                return BAD;
            }
            continue;
        }
        if (ch < 0x20) return BAD;
        /* UTF-8 sequence */
        Py_ssize_t left = end - p;
        if (ch >= 0xC2 && ch <= 0xDF) {
            if (left < 2 || (p[1] & 0xC0) != 0x80) return BAD;
            p += 2;
        } else if (ch >= 0xE0 && ch <= 0xEF) {
            if (left < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return BAD;
            if (ch == 0xE0 && p[1] < 0xA0) return BAD;
            if (ch == 0xED && p[1] > 0x9F) return BAD;
            p += 3;
        } else if (ch >= 0xF0 && ch <= 0xF4) {
            if (left < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
                (p[3] & 0xC0) != 0x80)
                return BAD;
            if (ch == 0xF0 && p[1] < 0x90) return BAD;
            if (ch == 0xF4 && p[1] > 0x8F) return BAD;
            p += 4;
        } else {
            return BAD;
        }
    }
}

/* An object member's key and its ':' (the value's leading whitespace is left); the
   key's bytes are [*s, *e), *esc when it holds escapes. */
static inline int read_key(Ctx *c, const u8 **s, const u8 **e, int *esc) {
    if (UNLIKELY(c->p >= c->end || *c->p != '"')) return BAD;
    if (UNLIKELY(scan_string(c, s, e, esc) < 0)) return BAD;
    c->p = ws(c->p, c->end);
    if (UNLIKELY(c->p >= c->end || *c->p != ':')) return BAD;
    c->p++;
    return OK;
}

static void put_utf8(Buf *b, unsigned cp) {
    char *o = b->buf + b->len;
    if (cp < 0x80) {
        o[0] = (char)cp;
        b->len += 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        b->len += 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        b->len += 3;
    } else {
        o[0] = (char)(0xF0 | (cp >> 18));
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        b->len += 4;
    }
}

/* Appends the decoded content of a validated string (raw s..e) to b. */
static int unescape(const u8 *s, const u8 *e, int esc, Buf *b) {
    if (buf_reserve(b, (e - s) + 4) < 0) return -1;
    if (!esc) {
        memcpy(b->buf + b->len, s, (size_t)(e - s));
        b->len += e - s;
        return 0;
    }
    while (s < e) {
        const u8 *q = s;
        while (q < e && *q != '\\') q++;
        memcpy(b->buf + b->len, s, (size_t)(q - s));
        b->len += q - s;
        if (q >= e) break;
        u8 x = q[1];
        if (x == 'u') {
            unsigned v = 0, w = 0;
            hex4(q + 2, e, &v);
            q += 6;
            if (v >= 0xD800 && v <= 0xDBFF) {
                hex4(q + 2, e, &w);
                v = 0x10000 + ((v - 0xD800) << 10) + (w - 0xDC00);
                q += 6;
            }
            put_utf8(b, v);
        } else {
            char o = (char)x;
            if (x == 'b') o = '\b';
            else if (x == 'f') o = '\f';
            else if (x == 'n') o = '\n';
            else if (x == 'r') o = '\r';
            else if (x == 't') o = '\t';
            b->buf[b->len++] = o;
            q += 2;
        }
        s = q;
    }
    return 0;
}

typedef struct {
    const u8 *s, *e;
    int is_int, neg;
    int digits; /* integer-part digits */
} Num;

/* A JSON number at c->p. Numbers the other readers may treat differently (long integers,
 * huge exponents, long literals) are NO, after being consumed. */
static int scan_number(Ctx *c, Num *n) {
    const u8 *p = c->p, *end = c->end;
    n->s = p;
    n->neg = 0;
    n->is_int = 1;
    if (p < end && *p == '-') {
        n->neg = 1;
        p++;
    }
    if (p >= end) return BAD;
    const u8 *d0 = p;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') p++;
    } else {
        return BAD;
    }
    n->digits = (int)(p - d0);
    long exp = 0;
    if (p < end && *p == '.') {
        n->is_int = 0;
        p++;
        if (p >= end || *p < '0' || *p > '9') return BAD;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        n->is_int = 0;
        p++;
        int eneg = 0;
        if (p < end && (*p == '+' || *p == '-')) {
            eneg = *p == '-';
            p++;
        }
        if (p >= end || *p < '0' || *p > '9') return BAD;
        while (p < end && *p >= '0' && *p <= '9') {
            if (exp < 100000) exp = exp * 10 + (*p - '0');
            p++;
        }
        if (eneg) exp = -exp;
    }
    n->e = p;
    c->p = p;
    if (p - n->s > 24 || exp > 280 || exp < -280 || (n->is_int && n->digits > 18)) return NO;
    return OK;
}

static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* The double nearest to a JSON number (as Python's float() reads it). With at most 15
 * significant digits and a power of ten up to 22, mantissa and power are exact doubles
 * and one IEEE multiplication or division rounds correctly (Clinger's fast path);
 * other numbers go through CPython's correctly rounded reader. */
static int num_double(const Num *n, double *out) {
    char tmp[32];
    Py_ssize_t len = n->e - n->s;
    if (len >= (Py_ssize_t)sizeof(tmp)) return -1;
    {
        long long m = 0;
        int sig = 0, frac = 0, in_frac = 0;
        long ex = 0;
        const u8 *p = n->s + n->neg;
        for (; p < n->e; p++) {
            u8 ch = *p;
            if (ch == '.') {
                in_frac = 1;
            } else if (ch == 'e' || ch == 'E') {
                break;
            } else {
                if (m || ch != '0') sig++;
                m = m * 10 + (ch - '0');
                frac += in_frac;
                if (sig > 15) break;
            }
        }
        if (sig <= 15) {
            if (p < n->e && (*p == 'e' || *p == 'E')) {
                int eneg = 0;
                p++;
                if (*p == '+' || *p == '-') eneg = *p++ == '-';
                for (; p < n->e; p++) ex = ex * 10 + (*p - '0');
                if (eneg) ex = -ex;
            }
            long net = ex - frac;
            if (net >= -22 && net <= 22) {
                double v = (double)m;
                v = net >= 0 ? v * POW10[net] : v / POW10[-net];
                *out = n->neg ? -v : v;
                return 0;
            }
        }
    }
    memcpy(tmp, n->s, (size_t)len);
    tmp[len] = 0;
    double v = PyOS_string_to_double(tmp, NULL, NULL);
    if (v == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return -1;
    }
    if (v > 1.7976931348623157e308 || v < -1.7976931348623157e308) return -1;
    *out = v;
    return 0;
}

static int num_int(const Num *n, long long *out) {
    if (!n->is_int || n->digits > 18) return -1;
    long long v = 0;
    for (const u8 *p = n->s + n->neg; p < n->e; p++) v = v * 10 + (*p - '0');
    *out = n->neg ? -v : v;
    return 0;
}

static int lit(Ctx *c, const char *word, Py_ssize_t n) {
    if (c->end - c->p < n || memcmp(c->p, word, (size_t)n)) return BAD;
    c->p += n;
    return OK;
}

#define MAX_DEPTH 100

/* Skips (validating) any JSON value at c->p (after whitespace). */
static int skip_value(Ctx *c, int depth) {
    c->p = ws(c->p, c->end);
    if (UNLIKELY(c->p >= c->end)) return BAD;
    if (UNLIKELY(depth > MAX_DEPTH)) return BAD;
    int res = OK, r;
    const u8 *s, *e;
    int esc;
    switch (*c->p) {
        case '"':
            return scan_string(c, &s, &e, &esc);
        case '{':
            if (open_object(c) == END) return OK;
            for (;;) {
                if (UNLIKELY(read_key(c, &s, &e, &esc) < 0)) return BAD;
                if (UNLIKELY((r = skip_value(c, depth + 1)) < 0)) return BAD;
                res |= r;
                int m = next_member(c, '}');
                if (m == MORE) continue;
                if (m < 0) return BAD;
                return res;
            }
        case '[':
            c->p = ws(c->p + 1, c->end);
            if (c->p < c->end && *c->p == ']') {
                c->p++;
                return OK;
            }
            for (;;) {
                if (UNLIKELY((r = skip_value(c, depth + 1)) < 0)) return BAD;
                res |= r;
                int m = next_member(c, ']');
                if (m == MORE) continue;
                if (m < 0) return BAD;
                return res;
            }
        case 't':
            return lit(c, "true", 4);
        case 'f':
            return lit(c, "false", 5);
        case 'n':
            return lit(c, "null", 4);
        default: {
            Num n;
            return scan_number(c, &n);
        }
    }
}

/* ---------------------------------------------------- schema plan checking */

static Py_ssize_t n_chars(const u8 *s, const u8 *e) {
    Py_ssize_t n = 0;
    for (; s < e; s++) n += (*s & 0xC0) != 0x80;
    return n;
}

static int atoms_match(const Atom *a, Py_ssize_t na, const u8 *s, const u8 *e, int end_anchor,
                       long *budget) {
    if (--*budget < 0) return 0;
    if (na == 0) return !end_anchor || s == e;
    Py_ssize_t k = 0, hi = a->hi < 0 ? (e - s) : a->hi;
    while (k < hi && s + k < e && (a->set[s[k] >> 3] >> (s[k] & 7) & 1)) k++;
    if (k < a->lo) return 0;
    for (; k >= a->lo; k--)
        if (atoms_match(a + 1, na - 1, s + k, e, end_anchor, budget)) return 1;
    return 0;
}

static int pattern_ok(const Node *n, const u8 *s, const u8 *e) {
    for (const u8 *q = s; q < e; q++)
        if (*q >= 0x80) return 0;
    long budget = 20000;
    const u8 *last = n->pat_start ? s : e;
    for (const u8 *st = s; st <= last; st++)
        if (atoms_match(n->atoms, n->n_atoms, st, e, n->pat_end, &budget)) return 1;
    return 0;
}

static int check_node(Ctx *c, const Node *n, int depth);

static int check_obj(Ctx *c, const Node *n, int depth) {
    uint64_t seen = 0;
    int res = OK, r;
    const u8 *s, *e;
    int esc;
    if (open_object(c) == END) goto done;
    for (;;) {
        if (read_key(c, &s, &e, &esc) < 0) return BAD;
        Py_ssize_t f = -1;
        if (!esc) {
            for (Py_ssize_t i = 0; i < n->n_fields; i++)
                if (n->fname_n[i] == e - s && !memcmp(n->fname[i], s, (size_t)(e - s))) {
                    f = i;
                    break;
                }
        } else {
            res = NO; /* a key with escapes: not matched here */
        }
        if (f >= 0) {
            if (seen >> f & 1) res = NO; /* duplicate key */
            seen |= (uint64_t)1 << f;
            r = check_node(c, n->ftype[f], depth + 1);
        } else {
            if (n->forbid) res = NO;
            r = skip_value(c, depth + 1);
        }
        if (r < 0) return BAD;
        res |= r;
        int m = next_member(c, '}');
        if (m == MORE) continue;
        if (m < 0) return BAD;
        break;
    }
done:
    for (Py_ssize_t i = 0; i < n->n_fields; i++)
        if (n->freq[i] && !(seen >> i & 1)) res = NO;
    return res;
}

/* Checks the value at c->p against plan n: OK only when the value is proven valid. */
static int check_node(Ctx *c, const Node *n, int depth) {
    c->p = ws(c->p, c->end);
    if (c->p >= c->end || depth > MAX_DEPTH) return BAD;
    u8 ch = *c->p;
    int r;
    if (n->kind == N_ANY) return skip_value(c, depth);
    if (ch == 'n') {
        if (lit(c, "null", 4) < 0) return BAD;
        return (n->nullable || n->kind == N_NULL) ? OK : NO;
    }
    switch (n->kind) {
        case N_BOOL:
            if (ch == 't' || ch == 'f') return skip_value(c, depth);
            break;
        case N_STR:
        case N_ENUM:
            if (ch == '"') {
                const u8 *s, *e;
                int esc;
                if (scan_string(c, &s, &e, &esc) < 0) return BAD;
                if (n->kind == N_ENUM) {
                    if (esc) return NO;
                    for (Py_ssize_t i = 0; i < n->n_enum; i++)
                        if (n->enum_n[i] == e - s && !memcmp(n->enum_s[i], s, (size_t)(e - s)))
                            return OK;
                    return NO;
                }
                if (n->min_n < 0 && n->max_n < 0 && !n->has_pat) return OK;
                if (esc) return NO;
                Py_ssize_t len = n_chars(s, e);
                if (n->min_n >= 0 && len < n->min_n) return NO;
                if (n->max_n >= 0 && len > n->max_n) return NO;
                if (n->has_pat && !pattern_ok(n, s, e)) return NO;
                return OK;
            }
            break;
        case N_INT:
        case N_FLOAT:
            if (ch == '-' || (ch >= '0' && ch <= '9')) {
                Num num;
                if ((r = scan_number(c, &num)) != OK) return r;
                if (n->kind == N_INT) {
                    long long v;
                    if (num_int(&num, &v) < 0) return NO;
                    if (n->has_b[0] && !(v >= n->ib[0])) return NO;
                    if (n->has_b[1] && !(v <= n->ib[1])) return NO;
                    if (n->has_b[2] && !(v > n->ib[2])) return NO;
                    if (n->has_b[3] && !(v < n->ib[3])) return NO;
                    return OK;
                }
                double v;
                if (num.is_int && num.digits > 15) return NO;
                if (num_double(&num, &v) < 0) return NO;
                if (n->has_b[0] && !(v >= n->db[0])) return NO;
                if (n->has_b[1] && !(v <= n->db[1])) return NO;
                if (n->has_b[2] && !(v > n->db[2])) return NO;
                if (n->has_b[3] && !(v < n->db[3])) return NO;
                return OK;
            }
            break;
        case N_LIST:
            if (ch == '[') {
                int res = OK;
                Py_ssize_t count = 0;
                c->p = ws(c->p + 1, c->end);
                if (c->p < c->end && *c->p == ']') {
                    c->p++;
                } else {
                    for (;;) {
                        if ((r = check_node(c, n->item, depth + 1)) < 0) return BAD;
                        res |= r;
                        count++;
                        int m = next_member(c, ']');
                        if (m == MORE) continue;
                        if (m < 0) return BAD;
                        break;
                    }
                }
                if (n->min_n >= 0 && count < n->min_n) res = NO;
                if (n->max_n >= 0 && count > n->max_n) res = NO;
                return res;
            }
            break;
        case N_OBJ:
            if (ch == '{') return check_obj(c, n, depth);
            break;
        case N_DICT:
            if (ch == '{') return skip_value(c, depth);
            break;
        default:
            break;
    }
    r = skip_value(c, depth);
    return r < 0 ? BAD : NO;
}

/* A configured tool's arguments (the raw value s..e): proven valid by its plan. A JSON
 * string is parsed as the reference parses argument text. */
static int args_ok(Ctx *c, const Node *plan, const u8 *s, const u8 *e, int is_str, int esc) {
    if (plan->kind == N_NEVER) return 0;
    Memo *m = c->memo;
    Py_ssize_t n = e - s;
    /* the answer depends only on the plan and the value's bytes */
    for (int i = 0; m && i < ARGS_RING; i++) {
        const ArgsSeen *a = &m->args[i];
        if (a->node == plan && a->n == n && a->is_str == is_str && a->esc == esc &&
            !memcmp(a->s, s, (size_t)n))
            return a->ok;
    }
    Ctx sub = {0};
    int ok;
    if (is_str) {
        Buf local = {0}, *b = m ? &m->scratch : &local;
        b->len = 0;
        if (unescape(s, e, esc, b) < 0) return -1;
        sub.p = (const u8 *)b->buf;
        sub.end = sub.p + b->len;
        ok = b->len > 0 && check_node(&sub, plan, 0) == OK && ws(sub.p, sub.end) == sub.end;
        buf_free(&local);
    } else {
        sub.p = s;
        sub.end = e;
        ok = check_node(&sub, plan, 0) == OK && sub.p == e;
    }
    buf_free(&sub.tmp);
    if (m) {
        m->args[m->args_next] = (ArgsSeen){plan, s, n, is_str, esc, ok};
        m->args_next = (m->args_next + 1) % ARGS_RING;
    }
    return ok;
}

/* ------------------------------------------------------------ intern tables */

typedef struct {
    uint64_t h;
    Py_ssize_t idx;
} Slot;

typedef struct {
    Slot *slots;
    Py_ssize_t cap, n;
    Buf arena;
    Py_ssize_t *off; /* per entry: offset in arena; off[n] = arena.len */
    Py_ssize_t off_cap;
} Table;

static uint64_t hash_bytes(const u8 *s, Py_ssize_t n) {
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    while (n--) h = (h ^ *s++) * 0x100000001b3ULL;
    h ^= h >> 32;
    return h | 1;
}

static void table_free(Table *t) {
    PyMem_Free(t->slots);
    PyMem_Free(t->off);
    buf_free(&t->arena);
}

/* Index of s in t (added at the end when new); -1 on memory error. */
static Py_ssize_t intern(Table *t, const u8 *s, Py_ssize_t n) {
    if ((t->n + 1) * 2 > t->cap) {
        Py_ssize_t cap = t->cap ? t->cap * 2 : 1024;
        Slot *ns = PyMem_Calloc((size_t)cap, sizeof(Slot));
        if (!ns) {
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t i = 0; i < t->cap; i++) {
            if (!t->slots[i].h) continue;
            Py_ssize_t j = (Py_ssize_t)(t->slots[i].h & (uint64_t)(cap - 1));
            while (ns[j].h) j = (j + 1) & (cap - 1);
            ns[j] = t->slots[i];
        }
        PyMem_Free(t->slots);
        t->slots = ns;
        t->cap = cap;
    }
    uint64_t h = hash_bytes(s, n);
    Py_ssize_t j = (Py_ssize_t)(h & (uint64_t)(t->cap - 1));
    while (t->slots[j].h) {
        if (t->slots[j].h == h) {
            Py_ssize_t i = t->slots[j].idx;
            Py_ssize_t a = t->off[i], b = t->off[i + 1];
            if (b - a == n && !memcmp(t->arena.buf + a, s, (size_t)n)) return i;
        }
        j = (j + 1) & (t->cap - 1);
    }
    if (t->n + 2 > t->off_cap) {
        Py_ssize_t cap = t->off_cap ? t->off_cap * 2 : 1024;
        Py_ssize_t *no = PyMem_Realloc(t->off, (size_t)cap * sizeof(Py_ssize_t));
        if (!no) {
            PyErr_NoMemory();
            return -1;
        }
        t->off = no;
        t->off_cap = cap;
        if (t->n == 0) t->off[0] = 0;
    }
    if (buf_put(&t->arena, s, n) < 0) return -1;
    t->slots[j].h = h;
    t->slots[j].idx = t->n;
    t->n++;
    t->off[t->n] = t->arena.len;
    return t->n - 1;
}


/* ------------------------------------------------------------ one step line */

enum {
    F_TRACE_ID, F_STEP_ID, F_STARTED_AT, F_TASK_CLASS, F_KIND, F_NAME, F_MODEL_REQUESTED,
    F_MODEL_SERVED, F_MODEL_ROUTED, F_PROVIDER_REQUESTED, F_PROVIDER_SERVED, F_FALLBACK_INDEX,
    F_RETRY_COUNT, F_CACHE_HIT, F_STATUS, F_CACHE_KIND, F_ERROR_TYPE, F_ERROR_MESSAGE,
    F_DURATION_MS, F_TOOL_NAME, F_TOOL_CALL_ID, F_TOOL_ARGUMENTS, F_TOOL_RESULT,
    F_OUTPUT_MESSAGE, F_TOOL_DEFINITIONS, F_SCHEMA_VERSION, F_PARENT_ID, F_SEGMENTS, F_TTFT_MS,
    F_SYSTEM_FINGERPRINT, F_USAGE, F_COST_USD, F_INPUT_MESSAGES, F_SOURCE, F_SOURCE_REF,
    F_ATTRIBUTES, F_COUNT
};

static const char *FIELD_NAMES[F_COUNT] = {
    "trace_id", "step_id", "started_at", "task_class", "kind", "name", "model_requested",
    "model_served", "model_routed", "provider_requested", "provider_served", "fallback_index",
    "retry_count", "cache_hit", "status", "cache_kind", "error_type", "error_message",
    "duration_ms", "tool_name", "tool_call_id", "tool_arguments", "tool_result",
    "output_message", "tool_definitions", "schema_version", "parent_id", "segments", "ttft_ms",
    "system_fingerprint", "usage", "cost_usd", "input_messages", "source", "source_ref",
    "attributes",
};

static signed char FIELD_TABLE[256][4];
static Py_ssize_t FIELD_LEN[F_COUNT];

static unsigned field_slot(const u8 *s, Py_ssize_t n) {
    return (unsigned)(n * 7 + s[0] * 3 + s[n - 1] * 5 + s[n / 2]) & 255;
}

/* a[0:n] == b[0:n], eight bytes at a time */
static inline int same_n(const u8 *a, const char *b, Py_ssize_t n) {
    uint64_t x, y;
    for (; n >= 8; a += 8, b += 8, n -= 8) {
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y) return 0;
    }
    for (; n > 0; n--)
        if (*a++ != (u8)*b++) return 0;
    return 1;
}

static int field_id(const u8 *s, Py_ssize_t n) {
    if (n < 4 || n > 20) return -1;
    const signed char *b = FIELD_TABLE[field_slot(s, n)];
    for (int i = 0; i < 4 && b[i] >= 0; i++)
        if (FIELD_LEN[(int)b[i]] == n && same_n(s, FIELD_NAMES[(int)b[i]], n)) return b[i];
    return -1;
}

static int init_fields(void) {
    memset(FIELD_TABLE, -1, sizeof(FIELD_TABLE));
    for (int f = 0; f < F_COUNT; f++) {
        const u8 *s = (const u8 *)FIELD_NAMES[f];
        FIELD_LEN[f] = (Py_ssize_t)strlen(FIELD_NAMES[f]);
        signed char *b = FIELD_TABLE[field_slot(s, (Py_ssize_t)strlen(FIELD_NAMES[f]))];
        int i = 0;
        while (i < 4 && b[i] >= 0) i++;
        if (i == 4) {
            PyErr_SetString(PyExc_RuntimeError, "field table bucket overflow");
            return -1;
        }
        b[i] = (signed char)f;
    }
    return 0;
}

static const char *KINDS[] = {"llm", "tool", "agent", "workflow", "embedding", "retrieval", "other"};
static const Py_ssize_t KIND_LEN[] = {3, 4, 5, 8, 9, 9, 5};
#define N_KINDS 7
static PyObject *KIND_STR[N_KINDS]; /* the kinds as str, made once */

static const char *FLAG_CODES[] = {"fallback", "retry", "model_mismatch", "cache_hit", "step_error"};
#define N_FLAG_CODES 5
static PyObject *FLAG_STR[N_FLAG_CODES];

/* The str of a flag code (a new reference). */
static PyObject *flag_str(const char *code) {
    for (int i = 0; i < N_FLAG_CODES; i++)
        if (!strcmp(code, FLAG_CODES[i])) return Py_NewRef(FLAG_STR[i]);
    return PyUnicode_FromString(code);
}

/* A tuple of n objects whose references it steals; NULL (all of them released) when one
 * is NULL or the tuple cannot be made. Py_BuildValue's work without its format parse. */
static PyObject *tuple_of(Py_ssize_t n, ...) {
    va_list ap;
    PyObject *t = PyTuple_New(n);
    int bad = t == NULL;
    va_start(ap, n);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *x = va_arg(ap, PyObject *);
        if (!x) bad = 1;
        if (bad) Py_XDECREF(x);
        else PyTuple_SET_ITEM(t, i, x);
    }
    va_end(ap);
    if (bad) {
        Py_XDECREF(t);
        return NULL;
    }
    return t;
}

static PyObject *size_obj(Py_ssize_t v) { return PyLong_FromSsize_t(v); }
static PyObject *bool_obj(int v) { return Py_NewRef(v ? Py_True : Py_False); }
#define MAX_CALLS 16

typedef struct {
    const u8 *s, *e;
    unsigned char esc, is_str, set, null;
} Val; /* a top-level value: a string's content, or any value's raw span */

typedef struct {
    int has_fn;   /* "function" is an object */
    Val name;     /* its "name" */
    Val args;     /* its "arguments" */
} CallInfo;

typedef struct {
    int decline;
    Val v[F_COUNT];
    int kind;
    Num dur;
    int n_calls, n_defs;
    CallInfo calls[MAX_CALLS];
} Line;

/* Reads a value's span; strings are scanned and their content recorded. */
static int read_val(Ctx *c, Val *v, int depth) {
    c->p = ws(c->p, c->end);
    if (c->p >= c->end) return BAD;
    v->set = 1;
    v->null = 0;
    v->is_str = 0;
    if (*c->p == '"') {
        v->is_str = 1;
        int esc, r = scan_string(c, &v->s, &v->e, &esc);
        v->esc = (unsigned char)esc;
        return r;
    }
    v->null = *c->p == 'n';
    v->s = c->p;
    int r = skip_value(c, depth);
    v->e = c->p;
    return r;
}

/* The "function" object of a call: name and arguments. */
static int read_function(Ctx *c, Line *L, CallInfo *ci) {
    int r;
    const u8 *s, *e;
    int esc;
    c->p = ws(c->p, c->end);
    if (c->p >= c->end) return BAD;
    if (*c->p != '{') return BAD; /* the caller passes objects only */
    ci->has_fn = 1;
    if (open_object(c) == END) return OK;
    for (;;) {
        if (read_key(c, &s, &e, &esc) < 0) return BAD;
        Val tmp, *dst = &tmp;
        if (esc) L->decline = 1;
        else if (e - s == 4 && !memcmp(s, "name", 4)) dst = &ci->name;
        else if (e - s == 9 && !memcmp(s, "arguments", 9)) dst = &ci->args;
        if (dst != &tmp && dst->set) L->decline = 1; /* duplicate key */
        if ((r = read_val(c, dst, 4)) < 0) return BAD;
        if (r) L->decline = 1;
        int m = next_member(c, '}');
        if (m == MORE) continue;
        if (m < 0) return BAD;
        return OK;
    }
}

/* An object whose keys are all skipped except `want` (handled by fn); duplicates of
 * `want` and escaped keys decline. */
typedef int (*member_fn)(Ctx *, Line *, void *);

static int read_members(Ctx *c, Line *L, const char *want, member_fn fn, void *arg) {
    int r, seen = 0;
    const u8 *s, *e;
    int esc;
    Py_ssize_t wn = (Py_ssize_t)strlen(want);
    if (open_object(c) == END) return OK;
    for (;;) {
        if (read_key(c, &s, &e, &esc) < 0) return BAD;
        if (esc) L->decline = 1;
        if (!esc && e - s == wn && !memcmp(s, want, (size_t)wn)) {
            if (seen++) L->decline = 1;
            r = fn(c, L, arg);
        } else {
            r = skip_value(c, 3);
        }
        if (r < 0) return BAD;
        if (r) L->decline = 1;
        int m = next_member(c, '}');
        if (m == MORE) continue;
        if (m < 0) return BAD;
        return OK;
    }
}

static int call_function(Ctx *c, Line *L, void *arg) {
    CallInfo *ci = arg;
    c->p = ws(c->p, c->end);
    if (c->p >= c->end) return BAD;
    if (*c->p == 'n') return lit(c, "null", 4);
    if (*c->p != '{') {
        L->decline = 1; /* msgspec wants an object or null */
        return skip_value(c, 3) < 0 ? BAD : OK;
    }
    return read_function(c, L, ci);
}

static int tool_calls(Ctx *c, Line *L, void *arg) {
    (void)arg;
    int r;
    c->p = ws(c->p, c->end);
    if (c->p >= c->end) return BAD;
    if (*c->p == 'n') return lit(c, "null", 4);
    if (*c->p != '[') {
        L->decline = 1;
        return skip_value(c, 2) < 0 ? BAD : OK;
    }
    c->p = ws(c->p + 1, c->end);
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        return OK;
    }
    for (;;) {
        c->p = ws(c->p, c->end);
        if (c->p >= c->end) return BAD;
        if (*c->p == '{' && L->n_calls < MAX_CALLS) {
            CallInfo *ci = &L->calls[L->n_calls++];
            memset(ci, 0, sizeof(*ci));
            r = read_members(c, L, "function", call_function, ci);
        } else {
            L->decline = 1; /* not an object (msgspec refuses), or too many calls */
            r = skip_value(c, 3);
        }
        if (r < 0) return BAD;
        if (r) L->decline = 1;
        int m = next_member(c, ']');
        if (m == MORE) continue;
        if (m < 0) return BAD;
        return OK;
    }
}

/* An array whose items must all be objects (content skipped); returns the count in *n. */
static int same_bytes(const Seen *m, const u8 *p, const u8 *end) {
    return m->p && end - p >= m->n && p[m->n - 1] == m->p[m->n - 1] && !memcmp(p, m->p, (size_t)m->n);
}

/* An array whose items must all be objects (content skipped); returns the count in *n.
 * which: 0 input_messages, 1 tool_definitions (the memo slot). */
static int object_list(Ctx *c, Line *L, int *n, int which) {
    int r;
    Memo *m = c->memo;
    *n = 0;
    if (*c->p != '[') {
        L->decline = 1;
        return skip_value(c, 1);
    }
    if (m && same_bytes(&m->list[which], c->p, c->end)) {
        c->p += m->list[which].n;
        *n = m->list[which].count;
        return OK;
    }
    const u8 *start = c->p;
    int declined = L->decline;
    L->decline = 0;
    c->p = ws(c->p + 1, c->end);
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        goto done;
    }
    for (;;) {
        c->p = ws(c->p, c->end);
        if (c->p >= c->end) return BAD;
        if (*c->p != '{') L->decline = 1;
        const u8 *item = c->p;
        int hit = 0;
        for (int i = 0; m && !which && i < RING && !hit; i++) {
            if (same_bytes(&m->ring[i], c->p, c->end)) {
                c->p += m->ring[i].n;
                hit = 1;
            }
        }
        if (!hit) {
            if ((r = skip_value(c, 2)) < 0) return BAD;
            if (r) {
                L->decline = 1;
            } else if (m && !which && *item == '{') {
                m->ring[m->next] = (Seen){item, c->p - item, 0};
                m->next = (m->next + 1) % RING;
            }
        }
        (*n)++;
        int m = next_member(c, ']');
        if (m == MORE) continue;
        if (m < 0) return BAD;
        break;
    }
done:
    if (m && !L->decline) m->list[which] = (Seen){start, c->p - start, *n};
    L->decline |= declined;
    return OK;
}

/* segments: an object of strings; usage: integers in its known keys (others skipped). */
static int typed_object(Ctx *c, Line *L, int usage) {
    int r;
    const u8 *s, *e;
    int esc;
    unsigned seen = 0;
    if (*c->p != '{') {
        L->decline = 1;
        return skip_value(c, 1);
    }
    if (open_object(c) == END) return OK;
    for (;;) {
        if (read_key(c, &s, &e, &esc) < 0) return BAD;
        c->p = ws(c->p, c->end);
        if (c->p >= c->end) return BAD;
        if (!usage) {
            if (*c->p != '"') L->decline = 1;
            r = skip_value(c, 2);
        } else {
            static const char *U[] = {"input_tokens", "output_tokens", "cache_read_tokens",
                                      "cache_write_tokens"};
            int k = -1;
            if (esc) L->decline = 1;
            for (int i = 0; i < 4 && !esc; i++)
                if ((Py_ssize_t)strlen(U[i]) == e - s && !memcmp(U[i], s, (size_t)(e - s))) k = i;
            if (k >= 0) {
                if (seen >> k & 1) L->decline = 1;
                seen |= 1u << k;
                Num num;
                long long v;
                if (*c->p == '-' || (*c->p >= '0' && *c->p <= '9')) {
                    r = scan_number(c, &num);
                    if (r == OK && num_int(&num, &v) < 0) L->decline = 1;
                } else {
                    L->decline = 1;
                    r = skip_value(c, 2);
                }
            } else {
                r = skip_value(c, 2);
            }
        }
        if (r < 0) return BAD;
        if (r) L->decline = 1;
        int m = next_member(c, '}');
        if (m == MORE) continue;
        if (m < 0) return BAD;
        return OK;
    }
}

static int is_litn(const Val *v, const char *word, Py_ssize_t n) {
    return v->is_str && !v->esc && v->e - v->s == n && !memcmp(v->s, word, (size_t)n);
}
#define is_lit(v, word) is_litn((v), (word), (Py_ssize_t)sizeof(word) - 1)

/* A non-negative number field (null allowed); *neg set when it has a minus sign. */
static int nonneg_number(Ctx *c, Line *L, Num *out) {
    if (*c->p == 'n') return lit(c, "null", 4);
    if (*c->p == '-' || (*c->p >= '0' && *c->p <= '9')) {
        Num tmp, *n = out ? out : &tmp;
        int r = scan_number(c, n);
        if (r == OK && n->neg) L->decline = 1;
        return r;
    }
    L->decline = 1;
    return skip_value(c, 1);
}

/* Parses one line's top-level object into L. BAD: not valid JSON or not an object. */
static int parse_line(Ctx *c, Line *L) {
    int r;
    const u8 *s, *e;
    int esc;
    uint64_t seen = 0;
    Memo *m = c->memo;
    int prev = F_COUNT; /* the line start */
    c->p = ws(c->p, c->end);
    if (c->p >= c->end || *c->p != '{') return BAD;
    if (open_object(c) == END) goto end;
    for (;;) {
        /* keys come in much the same order line after line: try the one that followed
         * the previous key last time before the table */
        int f = -1;
        int guess = m ? m->next_field[prev] : -1;
        Py_ssize_t gn = guess >= 0 ? FIELD_LEN[guess] : 0;
        const u8 *k = c->p;
        if (guess >= 0 && c->end - k > gn + 1 && k[0] == '"' && k[gn + 1] == '"' &&
            same_n(k + 1, FIELD_NAMES[guess], gn)) {
            /* the guessed name and a quote: that is the whole key (the name holds no
             * quote, backslash or control byte), no scan needed */
            f = guess;
            c->p = ws(c->p + gn + 2, c->end);
            if (c->p >= c->end || *c->p != ':') return BAD;
            c->p++;
        } else {
            if (read_key(c, &s, &e, &esc) < 0) return BAD;
            if (!esc) {
                Py_ssize_t n = e - s;
                if (guess >= 0 && gn == n && same_n(s, FIELD_NAMES[guess], n)) {
                    f = guess;
                } else {
                    f = field_id(s, n);
                    if (m) m->next_field[prev] = (signed char)f;
                }
            }
        }
        c->p = ws(c->p, c->end);
        if (c->p >= c->end) return BAD;
        prev = f < 0 ? F_COUNT : f;
        if (f < 0) {
            L->decline = 1; /* unknown (or escaped) key: msgspec refuses or we cannot tell */
            r = skip_value(c, 1);
        } else {
            Val *v = &L->v[f];
            if (seen >> f & 1) {
                L->decline = 1; /* duplicate key */
                r = skip_value(c, 1);
                goto next;
            }
            seen |= (uint64_t)1 << f;
            u8 ch = *c->p;
            switch (f) {
                case F_TRACE_ID:
                case F_STEP_ID:
                    r = read_val(c, v, 1);
                    if (!v->is_str || v->s == v->e) {
                        L->decline = 1;
                        v->set = 0;
                    }
                    break;
                case F_KIND:
                case F_STATUS:
                case F_SOURCE:
                    r = read_val(c, v, 1);
                    if (!v->is_str || v->esc) L->decline = 1;
                    break;
                case F_FALLBACK_INDEX:
                case F_RETRY_COUNT:
                    /* a non-negative integer literal of at most 18 digits */
                    r = read_val(c, v, 1);
                    if (r == OK && (v->is_str || v->e - v->s > 18 || v->s[0] < '0' || v->s[0] > '9'))
                        L->decline = 1;
                    for (const u8 *q = v->s; r == OK && !v->is_str && q < v->e; q++)
                        if (*q < '0' || *q > '9') L->decline = 1;
                    break;
                case F_CACHE_HIT:
                    r = read_val(c, v, 1);
                    if (v->is_str || (*v->s != 't' && *v->s != 'f')) L->decline = 1;
                    break;
                case F_DURATION_MS:
                    v->set = 1;
                    v->null = ch == 'n';
                    r = nonneg_number(c, L, &L->dur);
                    break;
                case F_TTFT_MS:
                case F_COST_USD:
                    r = nonneg_number(c, L, NULL);
                    break;
                case F_SCHEMA_VERSION: {
                    Num num;
                    long long iv;
                    if (ch == '-' || (ch >= '0' && ch <= '9')) {
                        r = scan_number(c, &num);
                        if (r == OK && num_int(&num, &iv) < 0) L->decline = 1;
                    } else {
                        L->decline = 1;
                        r = skip_value(c, 1);
                    }
                    break;
                }
                case F_TOOL_ARGUMENTS:
                case F_TOOL_RESULT:
                    r = read_val(c, v, 1);
                    break;
                case F_OUTPUT_MESSAGE:
                    v->set = 1;
                    v->null = ch == 'n';
                    if (ch == '{') {
                        r = read_members(c, L, "tool_calls", tool_calls, NULL);
                    } else if (ch == 'n') {
                        r = lit(c, "null", 4);
                    } else {
                        L->decline = 1;
                        r = skip_value(c, 1);
                    }
                    break;
                case F_TOOL_DEFINITIONS:
                    r = object_list(c, L, &L->n_defs, 1);
                    break;
                case F_INPUT_MESSAGES: {
                    int n;
                    r = object_list(c, L, &n, 0);
                    break;
                }
                case F_SEGMENTS:
                    r = typed_object(c, L, 0);
                    break;
                case F_USAGE:
                    r = typed_object(c, L, 1);
                    break;
                case F_ATTRIBUTES:
                    if (ch != '{') L->decline = 1;
                    r = skip_value(c, 1);
                    break;
                default: /* optional strings */
                    r = read_val(c, v, 1);
                    /* ch, not v's flags: reading those right after read_val's byte
                     * stores stalls (a wide load cannot forward from narrow stores) */
                    if (ch != '"' && ch != 'n') L->decline = 1;
                    break;
            }
        }
    next:
        if (r < 0) return BAD;
        if (r) L->decline = 1;
        int m = next_member(c, '}');
        if (m == MORE) continue;
        if (m < 0) return BAD;
        break;
    }
end:
    c->p = ws(c->p, c->end);
    if (c->p != c->end) return BAD;
    return OK;
}

/* --------------------------------------------------------- the audit rules */

static PyObject *str_of(const char *s, Py_ssize_t n) { return PyUnicode_DecodeUTF8(s, n, "strict"); }


static int is_leap(long y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static long days_from_civil(long y, long m, long d) {
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int digits(const u8 *s, int n, long *out) {
    long v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM|-HH:MM) as POSIX seconds, computed as Python's
 * aware datetime.timestamp() computes it (integer microseconds / 10**6, correctly
 * rounded; exact in doubles below 2**53 us). Anything else: -1 (decline). */
static int parse_ts(const u8 *s, const u8 *e, double *out) {
    Py_ssize_t n = e - s;
    long Y, M, D, h, mi, sec, us = 0, oh = 0, om = 0, sign = 0;
    if (n < 20) return -1;
    if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') return -1;
    if (digits(s, 4, &Y) || digits(s + 5, 2, &M) || digits(s + 8, 2, &D) ||
        digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &sec))
        return -1;
    const u8 *p = s + 19;
    if (p < e && *p == '.') {
        p++;
        int k = 0;
        while (p + k < e && p[k] >= '0' && p[k] <= '9') k++;
        if (k < 1 || k > 6) return -1;
        digits(p, k, &us);
        for (int i = k; i < 6; i++) us *= 10;
        p += k;
    }
    if (e - p == 1 && *p == 'Z') {
        sign = 0;
    } else if (e - p == 6 && (*p == '+' || *p == '-') && p[3] == ':') {
        if (digits(p + 1, 2, &oh) || digits(p + 4, 2, &om)) return -1;
        if (oh > 23 || om > 59) return -1;
        sign = *p == '-' ? -1 : 1;
        if (sign < 0 && oh == 0 && om == 0) return -1;
    } else {
        return -1;
    }
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (Y < 1971 || Y > 2200 || M < 1 || M > 12 || D < 1) return -1;
    if (D > mdays[M - 1] + (M == 2 && is_leap(Y))) return -1;
    if (h > 23 || mi > 59 || sec > 59) return -1;
    long long secs = (long long)days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec -
                     sign * (oh * 3600 + om * 60);
    long long total = secs * 1000000LL + us;
    *out = (double)total / 1e6;
    return 0;
}

/* Python's _norm(model) for ASCII text: strip, lower, the part after the last "/".
 * Returns the length written to out, or -1 (not ASCII or too long: decline). */
static Py_ssize_t norm_model(const char *s, Py_ssize_t n, char *out, Py_ssize_t cap) {
    for (Py_ssize_t i = 0; i < n; i++)
        if ((u8)s[i] >= 0x80) return -1;
    /* str.isspace() in ASCII: \t \n \v \f \r, \x1c-\x1f and space */
#define SP(ch) ((ch) == ' ' || ((ch) >= 9 && (ch) <= 13) || ((ch) >= 0x1c && (ch) <= 0x1f))
    Py_ssize_t a = 0, b = n;
    while (a < b && SP((u8)s[a])) a++;
    while (b > a && SP((u8)s[b - 1])) b--;
#undef SP
    Py_ssize_t slash = a;
    for (Py_ssize_t i = a; i < b; i++)
        if (s[i] == '/') slash = i + 1;
    if (b - slash > cap) return -1;
    for (Py_ssize_t i = slash; i < b; i++) {
        char ch = s[i];
        out[i - slash] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
    }
    return b - slash;
}

typedef struct {
    Py_ssize_t off, len;
} Str; /* decoded text in the line buffer */

static int text(Buf *b, const Val *v, Str *out) {
    out->off = b->len;
    if (unescape(v->s, v->e, v->esc, b) < 0) return -1;
    out->len = b->len - out->off;
    return 0;
}

static int nonempty(const Val *v) { return v->set && v->is_str && v->e > v->s; }

/* The model differs from the requested (or pinned) one, as the reference's _norm
 * compares them. 1 differs, 0 same, 2 not decidable here (not ASCII), -1 error. */
static int model_differs(const Plan *plan, const Val *req, const Val *got, Buf *b, Memo *m) {
    Str x, y;
    /* the answer depends only on the two values' bytes: models repeat line after line */
    if (m->model_d >= 0 && m->model_n[0] == req->e - req->s && m->model_n[1] == got->e - got->s &&
        m->model_esc[0] == req->esc && m->model_esc[1] == got->esc &&
        !memcmp(m->model_s[0], req->s, (size_t)m->model_n[0]) &&
        !memcmp(m->model_s[1], got->s, (size_t)m->model_n[1]))
        return m->model_d;
    m->model_d = -1;
    m->model_s[0] = req->s;
    m->model_n[0] = req->e - req->s;
    m->model_esc[0] = req->esc;
    m->model_s[1] = got->s;
    m->model_n[1] = got->e - got->s;
    m->model_esc[1] = got->esc;
    char nr[256], ng[256];
    if (text(b, req, &x) < 0 || text(b, got, &y) < 0) return -1;
    Py_ssize_t lr = norm_model(b->buf + x.off, x.len, nr, 256);
    Py_ssize_t lg = norm_model(b->buf + y.off, y.len, ng, 256);
    if (lr < 0 || lg < 0) return m->model_d = 2;
    const char *want = nr;
    Py_ssize_t lw = lr;
    const Named *pin = find_named(plan->pin_k, plan->n_pin, nr, lr);
    if (pin) {
        want = plan->pin_v[pin - plan->pin_k].name;
        lw = plan->pin_v[pin - plan->pin_k].n;
    }
    return m->model_d = lw != lg || memcmp(want, ng, (size_t)lg);
}

static int put_val(Buf *b, const Val *v, const char *dflt) {
    if (nonempty(v)) return unescape(v->s, v->e, v->esc, b);
    return buf_put(b, dflt, (Py_ssize_t)strlen(dflt));
}

static int put_str(Buf *b, const char *s) { return buf_put(b, s, (Py_ssize_t)strlen(s)); }

/* Appends (code, the text in b from `from`) to *flags (created) unless the code is ignored. */
static int add_flag(const Plan *plan, PyObject **flags, const char *code, Buf *b, Py_ssize_t from,
                    Py_ssize_t to) {
    /* the list exists even when the code is ignored: the step's facts (its timing
     * eligibility) then still come from here, as the reference's do */
    if (!*flags && !(*flags = PyList_New(0))) return -1;
    if (find_named(plan->ignore, plan->n_ignore, code, (Py_ssize_t)strlen(code))) return 0;
    PyObject *item = tuple_of(2, flag_str(code), str_of(b->buf + from, to - from));
    if (!item || PyList_Append(*flags, item) < 0) {
        Py_XDECREF(item);
        return -1;
    }
    Py_DECREF(item);
    return 0;
}

/* The reference's per-step flags that need no tool check (fallback, retry, model,
 * cache hit, error; nullband.traces.audit.step_facts), with its exact reasons, into
 * *flags (left NULL when none). 1 decided; 0 not decidable here; -1 error. */
static int step_flags(const Plan *plan, Line *L, Buf *b, PyObject **flags, Memo *m) {
    Val *v = L->v;
    Py_ssize_t r0 = b->len;
    const Val *fi = &v[F_FALLBACK_INDEX], *rc = &v[F_RETRY_COUNT];
    int has_fi = fi->set && !(fi->e - fi->s == 1 && fi->s[0] == '0');
    const Val *pq = &v[F_PROVIDER_REQUESTED], *ps = &v[F_PROVIDER_SERVED];
    const Val *got = nonempty(&v[F_MODEL_SERVED])   ? &v[F_MODEL_SERVED]
                     : nonempty(&v[F_MODEL_ROUTED]) ? &v[F_MODEL_ROUTED]
                                                    : NULL;
    if (has_fi) {
        if (put_str(b, "fallback #") < 0 || buf_put(b, fi->s, fi->e - fi->s) < 0 ||
            put_str(b, " served (") < 0 || put_val(b, ps, "?") < 0 || put_str(b, "/") < 0 ||
            (got ? unescape(got->s, got->e, got->esc, b) : put_str(b, "?")) < 0 ||
            put_str(b, ")") < 0 || add_flag(plan, flags, "fallback", b, r0, b->len) < 0)
            return -1;
    } else if (nonempty(pq) && nonempty(ps)) {
        Str x, y;
        if (text(b, pq, &x) < 0 || text(b, ps, &y) < 0) return -1;
        if (x.len != y.len || memcmp(b->buf + x.off, b->buf + y.off, (size_t)x.len)) {
            Py_ssize_t a = b->len;
            if (put_str(b, "requested provider ") < 0 || put_val(b, pq, "") < 0 ||
                put_str(b, ", served by ") < 0 || put_val(b, ps, "") < 0 ||
                add_flag(plan, flags, "fallback", b, a, b->len) < 0)
                return -1;
        }
    }
    if (rc->set && !(rc->e - rc->s == 1 && rc->s[0] == '0')) {
        Py_ssize_t a = b->len;
        if (buf_put(b, rc->s, rc->e - rc->s) < 0 || put_str(b, " retries before the answer") < 0 ||
            add_flag(plan, flags, "retry", b, a, b->len) < 0)
            return -1;
    }
    const Val *req = &v[F_MODEL_REQUESTED];
    if (nonempty(req) && got) {
        int d = model_differs(plan, req, got, b, m);
        if (d < 0) return -1;
        if (d == 2) return 0;
        if (d) {
            Py_ssize_t a = b->len;
            if (put_str(b, "requested ") < 0 || put_val(b, req, "") < 0 ||
                put_str(b, ", served ") < 0 || put_val(b, got, "") < 0 ||
                add_flag(plan, flags, "model_mismatch", b, a, b->len) < 0)
                return -1;
        }
    }
    if (v[F_CACHE_HIT].set && v[F_CACHE_HIT].s[0] == 't') {
        Py_ssize_t a = b->len;
        if (put_str(b, "served from the ") < 0 || put_val(b, &v[F_CACHE_KIND], "gateway") < 0 ||
            put_str(b, " cache") < 0 || add_flag(plan, flags, "cache_hit", b, a, b->len) < 0)
            return -1;
    }
    if (v[F_STATUS].set && is_lit(&v[F_STATUS], "error")) {
        /* f"{error_type or 'error'}: {error_message or ''}".strip() */
        Py_ssize_t a = b->len;
        if (put_val(b, &v[F_ERROR_TYPE], "error") < 0 || put_str(b, ": ") < 0 ||
            put_val(b, &v[F_ERROR_MESSAGE], "") < 0)
            return -1;
        Py_ssize_t z = b->len;
        if ((u8)b->buf[a] >= 0x80 || (u8)b->buf[z - 1] >= 0x80) return 0; /* unicode spaces? */
#define SP(ch) ((ch) == ' ' || ((ch) >= 9 && (ch) <= 13) || ((ch) >= 0x1c && (ch) <= 0x1f))
        while (a < z && SP((u8)b->buf[a])) a++;
        while (z > a && SP((u8)b->buf[z - 1])) z--;
#undef SP
        if (add_flag(plan, flags, "step_error", b, a, z) < 0) return -1;
    }
    return 1;
}

/* The checks a line leaves to Python (tools_clean returns 2): a tool step's tool (its
 * arguments when the plan does not prove them valid, and its result when the tool has a
 * result schema), or an llm step's calls whose arguments the plan does not prove valid,
 * in call order. Spans are raw JSON values in the chunk (a string with its quotes);
 * NULL: absent (arguments: not to check, or a call's missing "arguments"). */
typedef struct {
    int n;
    Str name[MAX_CALLS]; /* in the line buffer */
    const u8 *as[MAX_CALLS], *ae[MAX_CALLS];
    const u8 *rs, *re;
} Pending;

/* The raw span of a top-level value (a string's with its quotes). */
static void raw_span(const Val *v, const u8 **s, const u8 **e) {
    *s = v->is_str ? v->s - 1 : v->s;
    *e = v->is_str ? v->e + 1 : v->e;
}

/* Proves the step's tool calls (or tool step) raise no flag. 1: proven; 2: proven but
 * for the checks recorded in *P (the plan did not prove a configured tool's arguments or
 * a result valid: Python runs the reference's checks on those values); 0: decline;
 * -1: error. */
static int tools_clean(Ctx *c, const Plan *plan, Line *L, Buf *b, Pending *P) {
    Val *v = L->v;
    Str x;
    P->n = 0;
    P->rs = P->re = NULL;
    if (L->kind == 1) { /* a tool step */
        if (!plan->tool_steps) return 0;
        if (!nonempty(&v[F_TOOL_NAME])) return 1;
        if (text(b, &v[F_TOOL_NAME], &x) < 0) return -1;
        const Named *tool = find_named(plan->tools, plan->n_tools, b->buf + x.off, x.len);
        const Named *res = find_named(plan->results, plan->n_results, b->buf + x.off, x.len);
        const Val *a = &v[F_TOOL_ARGUMENTS];
        int pend = 0;
        P->name[0] = x;
        P->as[0] = P->ae[0] = NULL;
        if (tool && a->set && !a->null) {
            if (tool->node->kind == N_NEVER) return 0; /* no fast type: the reference decides */
            int ok = args_ok(c, tool->node, a->s, a->e, a->is_str, a->esc);
            if (ok < 0) return -1;
            if (!ok) {
                pend = 1;
                raw_span(a, &P->as[0], &P->ae[0]);
            }
        }
        if (res) {
            const Val *r = &v[F_TOOL_RESULT];
            if (r->set && r->is_str) return 0; /* the reference may parse a string first */
            if (res->node->kind == N_NEVER) return 0;
            Ctx sub = {0};
            static const u8 null_lit[] = "null";
            sub.p = r->set ? r->s : null_lit;
            sub.end = r->set ? r->e : null_lit + 4;
            int rr = check_node(&sub, res->node, 0);
            if (rr == BAD) return 0;
            if (rr != OK || sub.p != sub.end) pend = 1;
            /* Python checks the result whenever it checks the tool (as the reference does) */
            if (r->set) {
                P->rs = r->s;
                P->re = r->e;
            }
        }
        if (!pend) return 1;
        P->n = 1;
        return 2;
    }
    for (int i = 0; i < L->n_calls; i++) {
        CallInfo *ci = &L->calls[i];
        if (!ci->has_fn || !ci->name.set || !ci->name.is_str) return 0;
        if (text(b, &ci->name, &x) < 0) return -1;
        const Named *tool = find_named(plan->tools, plan->n_tools, b->buf + x.off, x.len);
        if (!tool) {
            if (L->n_defs > 0) return 0; /* the reference reads the definitions */
            continue;
        }
        if (tool->node->kind == N_NEVER) return 0; /* no fast type: the reference decides */
        int ok;
        if (ci->args.set) {
            ok = args_ok(c, tool->node, ci->args.s, ci->args.e, ci->args.is_str, ci->args.esc);
        } else {
            static const u8 empty[] = "{}";
            ok = args_ok(c, tool->node, empty, empty + 2, 0, 0);
        }
        if (ok < 0) return -1;
        if (!ok) {
            P->name[P->n] = x;
            P->as[P->n] = P->ae[P->n] = NULL;
            if (ci->args.set) raw_span(&ci->args, &P->as[P->n], &P->ae[P->n]);
            P->n++;
        }
    }
    return P->n ? 2 : 1;
}

/* ------------------------------------------------------------------ scan() */

typedef struct {
    Buf tcode, kcode, dur, ts, soff, sids;
    Table tids, keys;
    Py_ssize_t chars;
    Memo memo;
} Out;

static void out_free(Out *o) {
    buf_free(&o->tcode);
    buf_free(&o->kcode);
    buf_free(&o->dur);
    buf_free(&o->ts);
    buf_free(&o->soff);
    buf_free(&o->sids);
    table_free(&o->tids);
    table_free(&o->keys);
    buf_free(&o->memo.scratch);
}

static int put_i64(Buf *b, int64_t v) { return buf_put(b, &v, 8); }
static int put_f64(Buf *b, double v) { return buf_put(b, &v, 8); }


static PyObject *table_strs(Table *t) {
    PyObject *list = PyList_New(t->n);
    if (!list) return NULL;
    for (Py_ssize_t i = 0; i < t->n; i++) {
        PyObject *s = str_of(t->arena.buf + t->off[i], t->off[i + 1] - t->off[i]);
        if (!s) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, s);
    }
    return list;
}

static PyObject *table_keys(Table *t) {
    PyObject *list = PyList_New(t->n);
    if (!list) return NULL;
    for (Py_ssize_t i = 0; i < t->n; i++) {
        const char *s = t->arena.buf + t->off[i];
        Py_ssize_t n = t->off[i + 1] - t->off[i];
        const char *sep = memchr(s, '\xff', (size_t)n);
        PyObject *task = s[0] == '1' ? str_of(s + 1, sep - s - 1) : Py_NewRef(Py_None);
        PyObject *kind = Py_NewRef(KIND_STR[(int)sep[1]]);
        PyObject *label = str_of(sep + 2, n - (sep + 2 - s));
        PyObject *tup = (task && kind && label) ? PyTuple_Pack(3, task, kind, label) : NULL;
        Py_XDECREF(task);
        Py_XDECREF(kind);
        Py_XDECREF(label);
        if (!tup) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, tup);
    }
    return list;
}

static PyObject *bytearray_of(Buf *b) { return PyByteArray_FromStringAndSize(b->buf, b->len); }

/* An offset into the chunk, -1 for NULL. */
static Py_ssize_t at(const u8 *p, const u8 *data) { return p ? p - data : -1; }

/* The pending entry of a line: (row, line start, line end, its facts, whether it has a
 * simple flag (ignored or not), kind code, ((tool name, args start, args end, result
 * start, result end), ...)); offsets into the chunk, -1 where absent. */
static PyObject *pending_item(const Pending *P, const Buf *lb, const u8 *data, Py_ssize_t row,
                              Py_ssize_t off, Py_ssize_t end, PyObject *facts, int simple, int kind) {
    PyObject *checks = PyTuple_New(P->n);
    if (!checks) {
        Py_DECREF(facts);
        return NULL;
    }
    for (int i = 0; i < P->n; i++) {
        PyObject *one = tuple_of(5, str_of(lb->buf + P->name[i].off, P->name[i].len),
                                 size_obj(at(P->as[i], data)), size_obj(at(P->ae[i], data)),
                                 size_obj(at(P->rs, data)), size_obj(at(P->re, data)));
        if (!one) {
            Py_DECREF(checks);
            Py_DECREF(facts);
            return NULL;
        }
        PyTuple_SET_ITEM(checks, i, one);
    }
    return tuple_of(7, size_obj(row), size_obj(off), size_obj(end), facts,
                    PyLong_FromLong(simple), PyLong_FromLong(kind), checks);
}

/* One line: 1 accepted (flagged or pending included), 0 declined, 2 unreadable (chunk to
 * Python), -1 error. */
static int one_line(const Plan *plan, const u8 *s, const u8 *e, Out *o, Buf *lb, PyObject *declined,
                    PyObject *flagged, PyObject *pending, const u8 *data, Py_ssize_t first_idx,
                    Py_ssize_t row, Py_ssize_t off) {
    Ctx c = {0};
    c.memo = &o->memo;
    Line L;
    memset(L.v, 0, sizeof(L.v));
    L.decline = L.n_calls = L.n_defs = L.kind = 0;
    c.p = s;
    c.end = e;
    lb->len = 0;
    int r = parse_line(&c, &L);
    if (r < 0) return 2;
    Val *v = L.v;
    if (!v[F_TRACE_ID].set || !v[F_STEP_ID].set) return 2;
    Str tid, sid;
    if (text(lb, &v[F_TRACE_ID], &tid) < 0 || text(lb, &v[F_STEP_ID], &sid) < 0) return -1;
    if (memchr(lb->buf + sid.off, '\n', (size_t)sid.len)) return 2;
    Py_ssize_t t = intern(&o->tids, (const u8 *)lb->buf + tid.off, tid.len);
    if (t < 0) return -1;
    if (put_i64(&o->tcode, t) < 0 || put_i64(&o->soff, o->chars) < 0) return -1;
    if (buf_put(&o->sids, lb->buf + sid.off, sid.len) < 0 || buf_put(&o->sids, "\n", 1) < 0)
        return -1;
    o->chars += n_chars((const u8 *)lb->buf + sid.off, (const u8 *)lb->buf + sid.off + sid.len) + 1;
    int ok = !L.decline;
    double ts = Py_HUGE_VAL, dur = Py_NAN;
    L.kind = 0;
    if (ok && v[F_KIND].set) {
        L.kind = -1;
        for (int k = 0; k < N_KINDS; k++)
            if (is_litn(&v[F_KIND], KINDS[k], KIND_LEN[k])) {
                L.kind = k;
                break;
            }
        if (L.kind < 0) ok = 0;
    }
    if (ok && v[F_STATUS].set && !is_lit(&v[F_STATUS], "ok") && !is_lit(&v[F_STATUS], "error"))
        ok = 0;
    if (ok && v[F_SOURCE].set && !is_lit(&v[F_SOURCE], "otel") && !is_lit(&v[F_SOURCE], "litellm") &&
        !is_lit(&v[F_SOURCE], "bifrost") && !is_lit(&v[F_SOURCE], "generic"))
        ok = 0;
    if (ok && v[F_STARTED_AT].set && !v[F_STARTED_AT].null &&
        (v[F_STARTED_AT].esc || parse_ts(v[F_STARTED_AT].s, v[F_STARTED_AT].e, &ts) < 0))
        ok = 0;
    if (ok && v[F_DURATION_MS].set && !v[F_DURATION_MS].null &&
        ((L.dur.is_int && L.dur.digits > 15) || num_double(&L.dur, &dur) < 0))
        ok = 0;
    PyObject *flags = NULL;
    Pending P;
    P.n = 0;
    int simple = 0;
    if (ok) {
        int nf = tools_clean(&c, plan, &L, lb, &P);
        if (nf < 0) return -1;
        ok = nf != 0;
    }
    if (ok) {
        int nf = step_flags(plan, &L, lb, &flags, &o->memo);
        if (nf < 0) {
            Py_XDECREF(flags);
            return -1;
        }
        ok = nf;
        simple = flags != NULL;
        /* checks left to Python: the facts of a flagged line, its tool flags to come */
        if (ok && P.n && !flags && !(flags = PyList_New(0))) return -1;
    }
    if (!ok) {
        Py_CLEAR(flags);
        PyObject *item = tuple_of(5, size_obj(row), size_obj(off), size_obj(off + (e - s)),
                                  str_of(lb->buf + tid.off, tid.len),
                                  str_of(lb->buf + sid.off, sid.len));
        if (!item || PyList_Append(declined, item) < 0) {
            Py_XDECREF(item);
            return -1;
        }
        Py_DECREF(item);
        if (put_i64(&o->kcode, -1) < 0 || put_f64(&o->dur, Py_NAN) < 0 ||
            put_f64(&o->ts, Py_HUGE_VAL) < 0)
            return -1;
        return 0;
    }
    /* the timing key: (task class or None, kind, label) */
    Py_ssize_t k0 = lb->len;
    const Val *task = &v[F_TASK_CLASS];
    int has_task = nonempty(task);
    Str tmp;
    char sep[2] = {'\xff', (char)L.kind};
    if (buf_put(lb, has_task ? "1" : "0", 1) < 0) goto fail;
    if (has_task && text(lb, task, &tmp) < 0) goto fail;
    if (buf_put(lb, sep, 2) < 0) goto fail;
    const Val *label;
    if (L.kind == 1)
        label = nonempty(&v[F_TOOL_NAME]) ? &v[F_TOOL_NAME] : nonempty(&v[F_NAME]) ? &v[F_NAME] : NULL;
    else
        label = nonempty(&v[F_MODEL_SERVED])      ? &v[F_MODEL_SERVED]
                : nonempty(&v[F_MODEL_REQUESTED]) ? &v[F_MODEL_REQUESTED]
                : nonempty(&v[F_NAME])            ? &v[F_NAME]
                                                  : NULL;
    Py_ssize_t l0 = lb->len;
    if ((label ? text(lb, label, &tmp) : buf_put(lb, "-", 1)) < 0) goto fail;
    Py_ssize_t k = intern(&o->keys, (const u8 *)lb->buf + k0, lb->len - k0);
    if (k < 0) goto fail;
    if (put_i64(&o->kcode, k) < 0 || put_f64(&o->dur, dur) < 0 || put_f64(&o->ts, ts) < 0)
        goto fail;
    if (flags) {
        /* the reference's StepFacts of a flagged step, as a plain tuple */
        int has_dur = v[F_DURATION_MS].set && !v[F_DURATION_MS].null;
        int cache = v[F_CACHE_HIT].set && v[F_CACHE_HIT].s[0] == 't';
        int error = v[F_STATUS].set && is_lit(&v[F_STATUS], "error");
        int has_fi = v[F_FALLBACK_INDEX].set &&
                     !(v[F_FALLBACK_INDEX].e - v[F_FALLBACK_INDEX].s == 1 && v[F_FALLBACK_INDEX].s[0] == '0');
        PyObject *task_obj;
        if (task->set && task->is_str) {
            task_obj = str_of(lb->buf + k0 + 1, (has_task ? l0 - 2 - (k0 + 1) : 0));
        } else {
            task_obj = Py_NewRef(Py_None);
        }
        PyObject *facts = tuple_of(
            11, str_of(lb->buf + tid.off, tid.len), str_of(lb->buf + sid.off, sid.len),
            PyFloat_FromDouble(ts), size_obj(first_idx + row), task_obj,
            Py_NewRef(KIND_STR[L.kind]), str_of(lb->buf + l0, lb->len - l0),
            has_dur ? PyFloat_FromDouble(dur) : Py_NewRef(Py_None),
            bool_obj(has_dur && !cache && !error && !has_fi), bool_obj(error), flags);
        flags = NULL;
        if (!facts) return -1;
        PyObject *item = P.n ? pending_item(&P, lb, data, row, off, off + (e - s), facts, simple, L.kind)
                             : tuple_of(2, size_obj(row), facts);
        if (!item || PyList_Append(P.n ? pending : flagged, item) < 0) {
            Py_XDECREF(item);
            return -1;
        }
        Py_DECREF(item);
    }
    return 1;
fail:
    Py_XDECREF(flags);
    return -1;
}

static int blank(const u8 *s, const u8 *e) {
    for (; s < e; s++)
        if (!(*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == 0x0b || *s == 0x0c))
            return 0;
    return 1;
}

PyDoc_STRVAR(scan_doc,
             "scan(data, plan, first_idx) -> (trace_ids, tcode, keys, kcode, dur, ts, step_ids, "
             "step_offsets, declined, flagged, pending) or None\n\n"
             "Facts of the lines of a chunk of generic JSONL; see nullband.traces.native.");

static PyObject *scan(PyObject *mod, PyObject *args) {
    (void)mod;
    Py_buffer view;
    PyObject *plan_obj;
    Py_ssize_t first_idx;
    if (!PyArg_ParseTuple(args, "y*O!n", &view, &PlanType, &plan_obj, &first_idx)) return NULL;
    const Plan *plan = (const Plan *)plan_obj;
    Out o;
    memset(&o, 0, sizeof(o));
    memset(o.memo.next_field, -1, sizeof(o.memo.next_field));
    o.memo.model_d = -1;
    Buf lb = {0};
    PyObject *declined = PyList_New(0);
    PyObject *flagged = PyList_New(0);
    PyObject *pending = PyList_New(0);
    PyObject *result = NULL;
    Py_ssize_t row = 0;
    int unreadable = 0;
    const u8 *data = view.buf, *end = data + view.len, *p = data;
    if (!declined || !flagged || !pending) goto done;
    while (p < end) {
        const u8 *nl = memchr(p, '\n', (size_t)(end - p));
        const u8 *le = nl ? nl + 1 : end;
        if (!blank(p, le)) {
            int r = one_line(plan, p, le, &o, &lb, declined, flagged, pending, data, first_idx, row,
                             p - data);
            if (r < 0) goto done;
            if (r == 2) {
                unreadable = 1;
                break;
            }
            row++;
        }
        p = le;
    }
    if (unreadable) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    if (put_i64(&o.soff, o.chars) < 0) goto done;
    PyObject *sids = str_of(o.sids.buf ? o.sids.buf : "", o.sids.len);
    result = Py_BuildValue("(NNNNNNNNOOO)", table_strs(&o.tids), bytearray_of(&o.tcode),
                           table_keys(&o.keys), bytearray_of(&o.kcode), bytearray_of(&o.dur),
                           bytearray_of(&o.ts), sids, bytearray_of(&o.soff), declined, flagged,
                           pending);
done:
    Py_XDECREF(declined);
    Py_XDECREF(flagged);
    Py_XDECREF(pending);
    buf_free(&lb);
    out_free(&o);
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, scan_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_scan",
    .m_doc = "The fast audit engine's native per-chunk scanner.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__scan(void) {
    for (int i = 0; i < 256; i++) STOP[i] = (i == '"' || i == '\\' || i < 0x20 || i >= 0x80);
    if (init_fields() < 0) return NULL;
    for (int i = 0; i < N_KINDS; i++)
        if (!KIND_STR[i] && !(KIND_STR[i] = PyUnicode_InternFromString(KINDS[i]))) return NULL;
    for (int i = 0; i < N_FLAG_CODES; i++)
        if (!FLAG_STR[i] && !(FLAG_STR[i] = PyUnicode_InternFromString(FLAG_CODES[i]))) return NULL;
    if (PyType_Ready(&PlanType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    if (PyModule_AddObjectRef(m, "Plan", (PyObject *)&PlanType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
