// Package tabular reads delimited text the way people write it: it finds a
// file's encoding from all of its bytes (or line by line when a file mixes
// them), its dialect (delimiter, quoting, Excel's "sep=" line), where the
// table starts below title lines, whether the first row is a header, and
// splits records in constant memory while telling apart the rows it can
// keep from the ones it cannot.
//
// Both the upload preview (fileingest) and the conversion to a dataset
// (datasetquery) use it, so a preview and the dataset made from the same
// file name their columns the same way.
package tabular
