using System.Net;
using System.Net.Sockets;
using System.Text;

namespace MixerWorker.Deploy.Tests;

/// <summary>
/// Starts a hook command line the way MediaMTX v1.20.1 does on Linux (internal/externalcmd/cmd_os.go):
/// split with kballard/go-shellquote, expand $VAR in each part with Go's os.Expand (hook variables first,
/// then MediaMTX's own environment), exec the first part directly (no shell), with the process
/// environment plus the hook variables.
/// </summary>
internal static class MediaMtxHookRunner
{
    public static ProcessResult Run(IReadOnlyList<string> argv, IReadOnlyDictionary<string, string> hookEnv) =>
        Processes.Run(argv[0], argv.Skip(1), hookEnv, TimeSpan.FromSeconds(20));

    public static List<string> Prepare(string cmdline, IReadOnlyDictionary<string, string> hookEnv) =>
        ShellQuoteSplit(cmdline).Select(p => GoExpand(p, name =>
            hookEnv.TryGetValue(name, out var v) ? v : Environment.GetEnvironmentVariable(name) ?? "")).ToList();

    /// <summary>Port of go-shellquote Split: blanks separate words; '...' is literal; "..." allows \ before $ ` " \ newline.</summary>
    public static List<string> ShellQuoteSplit(string input)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        for (var i = 0; i < input.Length; i++)
        {
            var c = input[i];
            if (c is ' ' or '\t' or '\n')
            {
                if (inWord)
                {
                    words.Add(word.ToString());
                    word.Clear();
                    inWord = false;
                }
                continue;
            }
            inWord = true;
            switch (c)
            {
                case '\\':
                    if (++i >= input.Length)
                    {
                        throw new FormatException("unterminated backslash-escape");
                    }
                    if (input[i] != '\n')
                    {
                        word.Append(input[i]);
                    }
                    break;
                case '\'':
                    var close = input.IndexOf('\'', i + 1);
                    if (close < 0)
                    {
                        throw new FormatException("unterminated single-quoted string");
                    }
                    word.Append(input, i + 1, close - i - 1);
                    i = close;
                    break;
                case '"':
                    for (i++; ; i++)
                    {
                        if (i >= input.Length)
                        {
                            throw new FormatException("unterminated double-quoted string");
                        }
                        if (input[i] == '"')
                        {
                            break;
                        }
                        if (input[i] == '\\' && i + 1 < input.Length && input[i + 1] is '$' or '`' or '"' or '\\' or '\n')
                        {
                            i++;
                            if (input[i] == '\n')
                            {
                                continue;
                            }
                        }
                        word.Append(input[i]);
                    }
                    break;
                default:
                    word.Append(c);
                    break;
            }
        }
        if (inWord)
        {
            words.Add(word.ToString());
        }
        return words;
    }

    /// <summary>Port of Go's os.Expand: $name, ${name}, and single-character special names ($1, $$ ...).</summary>
    public static string GoExpand(string s, Func<string, string> mapping)
    {
        var sb = new StringBuilder();
        var i = 0;
        for (var j = 0; j < s.Length; j++)
        {
            if (s[j] != '$' || j + 1 >= s.Length)
            {
                continue;
            }
            sb.Append(s, i, j - i);
            var (name, width) = ShellName(s[(j + 1)..]);
            if (name.Length == 0 && width == 0)
            {
                sb.Append('$');
            }
            else if (name.Length > 0)
            {
                sb.Append(mapping(name));
            }
            j += width;
            i = j + 1;
        }
        return sb.Append(s, Math.Min(i, s.Length), s.Length - Math.Min(i, s.Length)).ToString();
    }

    private static bool IsSpecial(char c) => "*#$@!?-0123456789".Contains(c);

    private static (string Name, int Width) ShellName(string s)
    {
        if (s[0] == '{')
        {
            if (s.Length > 2 && IsSpecial(s[1]) && s[2] == '}')
            {
                return (s[1..2], 3);
            }
            var close = s.IndexOf('}', 1);
            return close switch
            {
                < 0 => ("", 1),
                1 => ("", 2),
                _ => (s[1..close], close + 1),
            };
        }
        if (IsSpecial(s[0]))
        {
            return (s[..1], 1);
        }
        var n = 0;
        while (n < s.Length && (char.IsAsciiLetterOrDigit(s[n]) || s[n] == '_'))
        {
            n++;
        }
        return (s[..n], n);
    }
}

/// <summary>A loopback HTTP server that records every request and answers with a chosen status.</summary>
internal sealed class RecordingHttpServer : IDisposable
{
    public sealed record Request(string Method, string Path, string? ContentType, string Body);

    private readonly HttpListener _listener;
    private readonly List<Request> _requests = [];
    private readonly Task _loop;

    public RecordingHttpServer(HttpStatusCode status = HttpStatusCode.NoContent)
    {
        Status = status;
        (_listener, BaseUrl) = Start();
        _loop = Task.Run(Serve);
    }

    public string BaseUrl { get; }

    public HttpStatusCode Status { get; set; }

    public IReadOnlyList<Request> Requests
    {
        get
        {
            lock (_requests)
            {
                return _requests.ToList();
            }
        }
    }

    private static (HttpListener, string) Start()
    {
        // HttpListener cannot bind port 0; take a free port from the kernel and retry if it was raced away.
        for (var attempt = 0; ; attempt++)
        {
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            var port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            var url = $"http://127.0.0.1:{port}/";
            var listener = new HttpListener();
            listener.Prefixes.Add(url);
            try
            {
                listener.Start();
                return (listener, url.TrimEnd('/'));
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                listener.Close();
            }
        }
    }

    private async Task Serve()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try
            {
                ctx = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            using var reader = new StreamReader(ctx.Request.InputStream, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            lock (_requests)
            {
                _requests.Add(new Request(ctx.Request.HttpMethod, ctx.Request.Url!.AbsolutePath, ctx.Request.ContentType, body));
            }
            ctx.Response.StatusCode = (int)Status;
            ctx.Response.Close();
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        // On Linux the managed HttpListener looks its endpoint up again while closing and may try to
        // bind the port once more; if another test process took the port meanwhile, that throws,
        // although there is nothing left to release.
        try { _listener.Close(); }
        catch (HttpListenerException) { }
        _loop.Wait(TimeSpan.FromSeconds(5));
    }
}
