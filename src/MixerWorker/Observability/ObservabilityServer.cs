using System.Buffers;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Prometheus;

namespace MixerWorker.Observability;

/// <summary>
/// Serves GET /metrics (Prometheus text, or OpenMetrics when the scraper asks for it), /healthz and
/// /readyz on METRICS__PORT. One HttpListener for the three, because prometheus-net's MetricServer
/// answers only its own path; the exposition itself is prometheus-net's. Registered first so that it
/// stops last: while the mixers stop, /readyz keeps answering "draining".
/// </summary>
internal sealed class ObservabilityServer(
    IOptions<MetricsOptions> options,
    WorkerMetrics metrics,
    HealthCheckService health,
    ILogger<ObservabilityServer> log) : BackgroundService
{
    private static readonly TimeSpan StopWhenIdleFor = TimeSpan.FromMilliseconds(100);
    private HttpListener? _listener;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        var port = options.Value.Port;
        if (port == 0) return Task.CompletedTask;
        var listener = new HttpListener();
        // Every interface: Prometheus and the container runtime's probes come from outside the loopback.
        listener.Prefixes.Add($"http://+:{port}/");
        try { listener.Start(); }
        catch (HttpListenerException e)
        {
            throw new OptionsValidationException(MetricsOptions.Section, typeof(MetricsOptions), [$"METRICS__PORT {port}: cannot listen ({e.Message})"]);
        }
        _listener = listener;
        log.LogInformation("metrics and health on port {Port}: /metrics, /healthz, /readyz", port);
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_listener is not { } listener) return;
        List<Task> answering = [];
        var next = listener.GetContextAsync();
        while (true)
        {
            // Once stopping, the requests still queued are answered too (503: their checks see the
            // stopped token) until none has come for a moment.
            var idle = stoppingToken.IsCancellationRequested ? Task.Delay(StopWhenIdleFor, CancellationToken.None) : Task.Delay(Timeout.Infinite, stoppingToken);
            if (await Task.WhenAny(next, idle) != next)
            {
                if (idle.IsCanceled) continue;
                break;
            }
            HttpListenerContext context;
            try { context = await next; }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
            // Not ready until the answer says otherwise, should the connection be closed before it is made.
            context.Response.StatusCode = (int)HttpStatusCode.ServiceUnavailable;
            answering.RemoveAll(t => t.IsCompleted);
            answering.Add(Task.Run(() => AnswerAsync(context, stoppingToken), CancellationToken.None));
            next = listener.GetContextAsync();
        }
        try { await Task.WhenAll(answering).WaitAsync(StopWhenIdleFor * 10, CancellationToken.None); }
        catch (TimeoutException) { /* an answer stuck on a slow client: the process's exit ends it */ }
        // The listener is left open on purpose, here and in Dispose: its Stop and Close end every
        // connection they still hold by sending the default answer, 200 with no body, which a probe
        // reads as ready; a request sent a moment before the stop got it (failed loaded test runs
        // after every narrowing of that moment). Left open, a late request gets no answer, and the
        // process's exit resets its connection, which a probe reads as not ready. Only the daemon
        // process serves these endpoints, and it exits right after its host stops.
    }

    private async Task AnswerAsync(HttpListenerContext context, CancellationToken stoppingToken)
    {
        var response = context.Response;
        try
        {
            if (context.Request.HttpMethod is not ("GET" or "HEAD"))
            {
                response.StatusCode = (int)HttpStatusCode.MethodNotAllowed;
                return;
            }
            switch (context.Request.Url?.AbsolutePath.TrimEnd('/'))
            {
                case "/metrics":
                    await WriteMetricsAsync(context, stoppingToken);
                    break;
                case "/healthz":
                    await WriteHealthAsync(response, context.Request.HttpMethod, HealthTags.Live, stoppingToken);
                    break;
                case "/readyz":
                    await WriteHealthAsync(response, context.Request.HttpMethod, HealthTags.Ready, stoppingToken);
                    break;
                default:
                    response.StatusCode = (int)HttpStatusCode.NotFound;
                    break;
            }
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The client went away, or the worker is stopping: then the answer must not be the default 200
            // with no body, which a probe would read as ready.
            try { response.StatusCode = (int)HttpStatusCode.ServiceUnavailable; }
            catch (Exception again) when (again is InvalidOperationException or ObjectDisposedException or HttpListenerException) { }
        }
        catch (Exception e)
        {
            log.LogError(e, "answering {Path} failed", context.Request.Url?.AbsolutePath);
            try { response.StatusCode = (int)HttpStatusCode.InternalServerError; } catch (InvalidOperationException) { }
        }
        finally
        {
            try { response.Close(); } catch (Exception e) when (e is HttpListenerException or ObjectDisposedException) { }
        }
    }

    private async Task WriteMetricsAsync(HttpListenerContext context, CancellationToken cancel)
    {
        var openMetrics = context.Request.AcceptTypes?.Any(a => a.StartsWith(PrometheusConstants.OpenMetricsContentType, StringComparison.OrdinalIgnoreCase)) == true;
        // Collected into memory first, so that a failed collection can still answer with a status code.
        using var body = new MemoryStream();
        await metrics.Registry.CollectAndExportAsTextAsync(body, openMetrics ? ExpositionFormat.OpenMetricsText : ExpositionFormat.PrometheusText, cancel);
        context.Response.ContentType = openMetrics
            ? PrometheusConstants.OpenMetricsContentTypeWithVersionAndEncoding
            : PrometheusConstants.TextContentTypeWithVersionAndEncoding;
        context.Response.StatusCode = (int)HttpStatusCode.OK;
        context.Response.ContentLength64 = body.Length;
        if (context.Request.HttpMethod == "GET") await context.Response.OutputStream.WriteAsync(body.GetBuffer().AsMemory(0, (int)body.Length), cancel);
    }

    private async Task WriteHealthAsync(HttpListenerResponse response, string method, string tag, CancellationToken cancel)
    {
        var report = await health.CheckHealthAsync(r => r.Tags.Contains(tag), cancel);
        response.StatusCode = report.Status == HealthStatus.Unhealthy ? (int)HttpStatusCode.ServiceUnavailable : (int)HttpStatusCode.OK;
        response.ContentType = "application/json; charset=utf-8";
        // Written by hand: an anonymous type has no generated contract (a NativeAOT worker has no other kind).
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("status", report.Status.ToString().ToLowerInvariant());
            json.WriteStartObject("checks");
            foreach (var (name, entry) in report.Entries)
            {
                json.WriteStartObject(name);
                json.WriteString("status", entry.Status.ToString().ToLowerInvariant());
                json.WriteString("description", entry.Description);
                json.WriteEndObject();
            }
            json.WriteEndObject();
            json.WriteEndObject();
        }
        var body = buffer.WrittenMemory;
        response.ContentLength64 = body.Length;
        if (method == "GET") await response.OutputStream.WriteAsync(body, cancel);
    }
}
