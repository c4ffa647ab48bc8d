namespace MixerWorker.Pipeline.Engine;

/// <summary>
/// The bin of one SRT connection (an input's source or a bus's output). It is torn down in three
/// steps because stopping an SRT element can wait on a libsrt call for a long time, and that wait
/// must never hold up the control thread or the buses.
/// </summary>
internal interface ISrtConnection
{
    /// <summary>Control thread: cuts the bin off from the shared part of the pipeline.</summary>
    void Detach();

    /// <summary>Any thread: stops the bin's streaming threads; may block.</summary>
    void Stop();

    /// <summary>Control thread, after <see cref="Stop"/>: removes the bin and drops our references.</summary>
    void Remove();
}
